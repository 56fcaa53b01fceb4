"""Warning flags for the project's own code (not for CppUTest's headers)."""

WARNINGS = [
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Wconversion",
    "-Wsign-conversion",
    "-Wnon-virtual-dtor",
    "-Werror",
]

# Test code: same, but CppUTest's macros trip -Wconversion/-Wsign-conversion.
TEST_WARNINGS = [
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Werror",
]
