// evl's version: the release in VERSION at the root, as numbers for #if and
// as a string. ./run sdk refuses to pack when the two disagree, and the SDK's
// pkg-config file and CMake package carry the same version.
#pragma once

#define EVL_VERSION_MAJOR 0
#define EVL_VERSION_MINOR 2
#define EVL_VERSION_PATCH 0
#define EVL_VERSION_STRING "0.2.0"
// One number for comparisons: EVL_VERSION >= EVL_VERSION_AT(0, 2, 0).
#define EVL_VERSION_AT(major, minor, patch) ((major)*10000 + (minor)*100 + (patch))
#define EVL_VERSION EVL_VERSION_AT(EVL_VERSION_MAJOR, EVL_VERSION_MINOR, EVL_VERSION_PATCH)
