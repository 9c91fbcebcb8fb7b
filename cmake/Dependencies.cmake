# Every third-party dependency is a Debian package; see tools/packages.txt.
find_package(Threads REQUIRED)
find_package(absl REQUIRED)
find_package(nlohmann_json REQUIRED)
# libsimdjson-dev ships a CMake config (target simdjson::simdjson, a shared library).
find_package(simdjson 3.0 CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(OpenCV 4.6 REQUIRED COMPONENTS core imgproc imgcodecs dnn video videoio)
find_package(GTest REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HWLOC REQUIRED IMPORTED_TARGET hwloc)
if(HETEROACCEL_WITH_OPENCL)
  find_package(OpenCL REQUIRED)
endif()

# OpenCV's headers trip C++20 deprecation warnings; treat them as system headers.
add_library(heteroaccel_opencv INTERFACE)
target_include_directories(heteroaccel_opencv SYSTEM INTERFACE ${OpenCV_INCLUDE_DIRS})
target_link_libraries(heteroaccel_opencv INTERFACE ${OpenCV_LIBS})

add_library(heteroaccel_boost INTERFACE)
target_include_directories(heteroaccel_boost SYSTEM INTERFACE ${Boost_INCLUDE_DIRS})
target_link_libraries(heteroaccel_boost INTERFACE Boost::system Threads::Threads)
target_compile_definitions(heteroaccel_boost INTERFACE BOOST_BEAST_USE_STD_STRING_VIEW)
