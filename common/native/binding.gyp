{
  "targets": [
    {
      "target_name": "tortie_native",
      "sources": ["tortie-native.c", "tun-reader.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
