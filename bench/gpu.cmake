# bench_gpu: ABMIL+MHIM training step on the CUDA op backend (bench/bench_gpu.c); built only with MHIM_USE_CUDA.
# Included from bench/CMakeLists.txt.
if(MHIM_USE_CUDA)
  add_executable(bench_gpu ${CMAKE_CURRENT_LIST_DIR}/bench_gpu.c)
  target_include_directories(bench_gpu PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(bench_gpu PRIVATE mhim_lib)
endif()
