# bench_allreduce: all-reduce cost per data-parallel step (bench/bench_allreduce.c, run by bench/bench_dist.sh).
if(MHIM_USE_MPI)
  add_executable(bench_allreduce ${CMAKE_CURRENT_LIST_DIR}/bench_allreduce.c)
  target_include_directories(bench_allreduce PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(bench_allreduce PRIVATE mhim_lib)
endif()
