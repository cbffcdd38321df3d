# bench_models: forward + backward per bag of ABMIL, TransMIL and DSMIL through the model registry, next to a
# plain cblas_sgemm (bench/bench_models.c); included from bench/CMakeLists.txt.
add_executable(bench_models ${CMAKE_CURRENT_LIST_DIR}/bench_models.c)
target_include_directories(bench_models PRIVATE ${CMAKE_SOURCE_DIR}/src ${CBLAS_INCLUDE_DIR})
target_link_libraries(bench_models PRIVATE mhim_lib)
