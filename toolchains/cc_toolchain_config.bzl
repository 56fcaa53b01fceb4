"""C++ toolchain configs for Debian's GCC 12 cross compilers."""

load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")
load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
    "with_feature_set",
)

_COMPILE = [
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.linkstamp_compile,
]
_CXX = [ACTION_NAMES.cpp_compile, ACTION_NAMES.cpp_header_parsing, ACTION_NAMES.linkstamp_compile]
_LINK = [
    ACTION_NAMES.cpp_link_executable,
    ACTION_NAMES.cpp_link_dynamic_library,
    ACTION_NAMES.cpp_link_nodeps_dynamic_library,
]

def _flags(actions, flags, features = None):
    return flag_set(
        actions = actions,
        flag_groups = [flag_group(flags = flags)],
        with_features = [with_feature_set(features = features)] if features else [],
    )

def _impl(ctx):
    triple = ctx.attr.triple
    gcc = "/usr/bin/%s-gcc-12" % triple
    tools = [
        tool_path(name = "gcc", path = gcc),
        tool_path(name = "ld", path = "/usr/bin/%s-ld" % triple),
        tool_path(name = "ar", path = "/usr/bin/%s-ar" % triple),
        tool_path(name = "cpp", path = "/usr/bin/%s-cpp-12" % triple),
        tool_path(name = "gcov", path = "/usr/bin/%s-gcov-12" % triple),
        tool_path(name = "nm", path = "/usr/bin/%s-nm" % triple),
        tool_path(name = "objdump", path = "/usr/bin/%s-objdump" % triple),
        tool_path(name = "strip", path = "/usr/bin/%s-strip" % triple),
    ]
    features = [
        feature(
            name = "default_flags",
            enabled = True,
            flag_sets = [
                _flags(_COMPILE, ctx.attr.arch_flags + [
                    "-fno-canonical-system-headers",
                    "-no-canonical-prefixes",
                    "-fstack-protector-strong",
                    "-ffunction-sections",
                    "-fdata-sections",
                    "-Wno-builtin-macro-redefined",
                    "-D__DATE__=\"redacted\"",
                    "-D__TIMESTAMP__=\"redacted\"",
                    "-D__TIME__=\"redacted\"",
                ]),
                _flags(_CXX, ["-std=c++17"]),
                _flags(_LINK, ctx.attr.arch_flags + [
                    "-no-canonical-prefixes",
                    "-Wl,--gc-sections",
                    "-Wl,-z,relro,-z,now",
                    "-lstdc++",
                    "-lm",
                    "-pthread",
                ]),
            ],
        ),
        feature(name = "dbg"),
        feature(name = "fastbuild"),
        feature(name = "opt"),
        feature(
            name = "mode_flags",
            enabled = True,
            flag_sets = [
                _flags(_COMPILE, ["-g", "-O0"], ["dbg"]),
                _flags(_COMPILE, ["-g1", "-O1"], ["fastbuild"]),
                _flags(_COMPILE, ["-g1", "-O2", "-DNDEBUG"], ["opt"]),
            ],
        ),
        feature(name = "supports_pic", enabled = True),
        feature(name = "supports_dynamic_linker", enabled = True),
    ]
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = features,
        cxx_builtin_include_directories = [
            "/usr/lib/gcc-cross/%s/12/include" % triple,
            "/usr/lib/gcc-cross/%s/12/include-fixed" % triple,
            "/usr/%s/include" % triple,
        ],
        toolchain_identifier = triple,
        host_system_name = "x86_64-linux-gnu",
        target_system_name = triple,
        target_cpu = ctx.attr.cpu,
        target_libc = "glibc",
        compiler = "gcc",
        abi_version = "gcc-12",
        abi_libc_version = "glibc",
        tool_paths = tools,
    )

cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {
        "triple": attr.string(mandatory = True),
        "cpu": attr.string(mandatory = True),
        "arch_flags": attr.string_list(default = []),
    },
    provides = [CcToolchainConfigInfo],
)
