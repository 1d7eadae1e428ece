# SPDX-License-Identifier: MIT
# Build helpers shared by every folder.
#
# Layering: a folder's headers are reachable only through an include root of its own,
# ${CMAKE_BINARY_DIR}/include/<folder>/<folder> -> <source>/<folder>. A target sees the roots
# of itself and of the targets it links, so including a header from a folder it may not use
# fails to compile. scripts/check-layers checks the same rule on the source text.

set(MESHTUN_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
    -Wunused -Woverloaded-virtual -Wconversion -Wsign-conversion
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND MESHTUN_WARNINGS -Wthread-safety)
endif()
if(MESHTUN_WERROR)
  list(APPEND MESHTUN_WARNINGS -Werror)
endif()

# MESHTUN_VERSION, what --version prints: `git describe --always --dirty` when configured in a
# git checkout, else the project version. Taken at configure time (base/version.cpp).
set(MESHTUN_VERSION ${PROJECT_VERSION})
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                  OUTPUT_VARIABLE meshtun_git_describe OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE meshtun_git_rc ERROR_QUIET)
  if(meshtun_git_rc EQUAL 0 AND NOT meshtun_git_describe STREQUAL "")
    set(MESHTUN_VERSION ${meshtun_git_describe})
  endif()
endif()
message(STATUS "meshtun version: ${MESHTUN_VERSION}")

add_library(meshtun_options INTERFACE)
target_compile_options(meshtun_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:${MESHTUN_WARNINGS}>)
if(MESHTUN_SANITIZE)
  target_compile_options(meshtun_options INTERFACE -fsanitize=address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(meshtun_options INTERFACE -fsanitize=address,undefined)
  target_compile_definitions(meshtun_options INTERFACE MESHTUN_SANITIZED=1)
endif()
if(MESHTUN_TSAN)
  target_compile_options(meshtun_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(meshtun_options INTERFACE -fsanitize=thread)
  target_compile_definitions(meshtun_options INTERFACE MESHTUN_SANITIZED=1)
endif()
if(MESHTUN_FUZZ)
  target_compile_options(meshtun_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined)
  target_link_options(meshtun_options INTERFACE -fsanitize=address,undefined)
  target_compile_definitions(meshtun_options INTERFACE MESHTUN_SANITIZED=1)
endif()
# clang 14 (Debian 12) cannot assemble C++20 coroutines instrumented by -fsanitize=function
# (part of UBSan): "Cannot represent a difference across sections"; fixed in clang 17.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 17
   AND (MESHTUN_FUZZ OR MESHTUN_SANITIZE))
  target_compile_options(meshtun_options INTERFACE -fno-sanitize=function)
endif()

# Aggregates, so a stage can build only what it runs: `cmake --build B --target unit_tests`.
add_custom_target(unit_tests)
add_custom_target(fuzzers)

# meshtun_library(<folder> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
# Defines target meshtun_<folder> from the sources of that folder.
function(meshtun_library folder)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(root ${CMAKE_BINARY_DIR}/include/${folder})
  file(MAKE_DIRECTORY ${root})
  if(NOT EXISTS ${root}/${folder})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
  endif()
  add_library(meshtun_${folder} STATIC ${ARG_SOURCES})
  target_include_directories(meshtun_${folder} PUBLIC ${root})
  target_link_libraries(meshtun_${folder} PUBLIC ${ARG_DEPS} PRIVATE meshtun_options ${ARG_PRIVATE_DEPS})
endfunction()

# meshtun_tests(<folder> SOURCES ... [DEPS ...])
# One doctest binary per folder (<folder>_test), registered with ctest as one test.
function(meshtun_tests folder)
  if(NOT MESHTUN_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${folder}_test ${ARG_SOURCES})
  target_link_libraries(${folder}_test PRIVATE meshtun_${folder} ${ARG_DEPS} meshtun_doctest_main
                        doctest::doctest meshtun_options)
  add_dependencies(unit_tests ${folder}_test)
  add_test(NAME ${folder} COMMAND ${folder}_test --no-intro=true)
  # 77: some test case could not run here (base/testing/skip.hpp).
  set_tests_properties(${folder} PROPERTIES LABELS unit TIMEOUT 600 SKIP_RETURN_CODE 77)
endfunction()

# meshtun_alloc_test(<folder> SOURCES ... [DEPS ...])
# A "no allocation per packet" test: a binary of its own (<folder>_alloc_test) with the
# counting allocator of base/testing/counting_alloc.cpp (malloc family and operator new),
# registered as <folder>_alloc.
function(meshtun_alloc_test folder)
  if(NOT MESHTUN_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${folder}_alloc_test ${ARG_SOURCES} ${CMAKE_SOURCE_DIR}/base/testing/counting_alloc.cpp)
  target_link_libraries(${folder}_alloc_test PRIVATE meshtun_${folder} ${ARG_DEPS}
                        meshtun_doctest_main doctest::doctest meshtun_options)
  add_dependencies(unit_tests ${folder}_alloc_test)
  add_test(NAME ${folder}_alloc COMMAND ${folder}_alloc_test --no-intro=true)
  set_tests_properties(${folder}_alloc PROPERTIES LABELS unit TIMEOUT 600 SKIP_RETURN_CODE 77)
endfunction()

# meshtun_fuzzer(<name> SOURCES ... DEPS ...): a libFuzzer target under tests/fuzz.
function(meshtun_fuzzer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(fuzz_${name} ${ARG_SOURCES})
  target_link_libraries(fuzz_${name} PRIVATE ${ARG_DEPS} meshtun_options)
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  add_dependencies(fuzzers fuzz_${name})
endfunction()
