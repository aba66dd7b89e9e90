{
  "targets": [{
    "target_name": "tortie_native",
    "sources": ["addon.c", "tun.c"],
    "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
  }]
}
