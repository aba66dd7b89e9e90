/* The native helper's entry: each part registers its functions (context-aware, so worker threads may load it). */
#include <node_api.h>

void tortie_register_tun(napi_env env, napi_value exports);

NAPI_MODULE_INIT() {
  tortie_register_tun(env, exports);
  return exports;
}
