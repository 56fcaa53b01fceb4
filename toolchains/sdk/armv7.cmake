# CMake toolchain file: Debian's armhf cross compiler (armv7-a, hard float).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# Debian 12's arm-linux-gnueabihf-g++ 12.2.0-14 at -O1 if-converts
# `*p != 0 ? *p : -4003` into a movw without its movt (0 gives 61533);
# evl's own armv7 build passes the same flag (README, Cross-compiling).
set(CMAKE_C_FLAGS_INIT "-fno-if-conversion")
set(CMAKE_CXX_FLAGS_INIT "-fno-if-conversion")
