# bench_elementwise: GB/s of the non-GEMM ops vs memcpy (bench/bench_elementwise.c); included from bench/CMakeLists.txt.
add_executable(bench_elementwise ${CMAKE_CURRENT_LIST_DIR}/bench_elementwise.c)
target_include_directories(bench_elementwise PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(bench_elementwise PRIVATE mhim_lib)
