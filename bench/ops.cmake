# bench_ops: nn.Linear forward/backward vs plain cblas_sgemm (bench/bench_ops.c); included from bench/CMakeLists.txt.
add_executable(bench_ops ${CMAKE_CURRENT_LIST_DIR}/bench_ops.c)
target_include_directories(bench_ops PRIVATE ${CMAKE_SOURCE_DIR}/src ${CBLAS_INCLUDE_DIR})
target_link_libraries(bench_ops PRIVATE mhim_lib)
# bench_gemm_bf16: the CPU bf16 GEMM of --precision=bf16 vs cblas_sgemm (bench/bench_gemm_bf16.c).
add_executable(bench_gemm_bf16 ${CMAKE_CURRENT_LIST_DIR}/bench_gemm_bf16.c)
target_include_directories(bench_gemm_bf16 PRIVATE ${CMAKE_SOURCE_DIR}/src ${CBLAS_INCLUDE_DIR})
target_link_libraries(bench_gemm_bf16 PRIVATE mhim_lib)
