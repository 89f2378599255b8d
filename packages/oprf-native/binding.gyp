{
  "targets": [
    {
      "target_name": "oprf_native",
      "sources": ["src/oprf_native.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["<!@(pkg-config --cflags libsodium 2>/dev/null || true)"],
      "libraries": ["<!@(pkg-config --libs libsodium 2>/dev/null || echo -lsodium)"]
    }
  ]
}
