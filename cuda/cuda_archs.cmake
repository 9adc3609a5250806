# Chooses the CUDA architectures before enable_language(CUDA) (included by the top level).
# Order: SEQCORE_CUDA_ARCHS (cache or environment, e.g. "90" for a quick build), then a
# user-given CMAKE_CUDA_ARCHITECTURES / CUDAARCHS, else every major architecture the
# toolkit supports as machine code plus PTX of the newest (CUDA 13 dropped sm_70).
set(SEQCORE_CUDA_ARCHS "" CACHE STRING "CUDA architectures, e.g. 90 or 80;90 (empty: all the toolkit supports)")
if(DEFINED ENV{SEQCORE_CUDA_ARCHS} AND NOT "$ENV{SEQCORE_CUDA_ARCHS}" STREQUAL "")
  set(SEQCORE_CUDA_ARCHS "$ENV{SEQCORE_CUDA_ARCHS}")
endif()

if(SEQCORE_CUDA_ARCHS)
  set(CMAKE_CUDA_ARCHITECTURES "${SEQCORE_CUDA_ARCHS}")
elseif(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  execute_process(COMMAND "${CMAKE_CUDA_COMPILER}" --version OUTPUT_VARIABLE _seqcore_nvcc_version ERROR_QUIET)
  string(REGEX MATCH "release ([0-9]+)\\.([0-9]+)" _seqcore_match "${_seqcore_nvcc_version}")
  set(_seqcore_cuda_major "${CMAKE_MATCH_1}")
  if(_seqcore_cuda_major GREATER_EQUAL 13)
    set(CMAKE_CUDA_ARCHITECTURES 75-real 80-real 86-real 89-real 90)
  elseif(_seqcore_cuda_major EQUAL 12)
    set(CMAKE_CUDA_ARCHITECTURES 70-real 75-real 80-real 86-real 89-real 90)
  else()
    set(CMAKE_CUDA_ARCHITECTURES 70-real 75-real 80)
  endif()
endif()
message(STATUS "seqcore: CUDA architectures ${CMAKE_CUDA_ARCHITECTURES}")
