{
  "targets": [
    {
      "target_name": "dermosynth_torch",
      "sources": ["src/addon.cc", "src/distributed.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node libtorch.cjs include)"
      ],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_EXPERIMENTAL", "<!@(node libtorch.cjs defines)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-O2", "-fexceptions", "-frtti", "-Wno-unused-parameter", "<!@(node libtorch.cjs cflags)"],
      "libraries": ["<!@(node libtorch.cjs libs)"]
    }
  ]
}
