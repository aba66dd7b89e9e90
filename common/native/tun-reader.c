/*
 * readTun(fd, callback) -> close(): read a TUN device (openTun in tortie-native.c) from the
 * calling thread's libuv loop, for the userspace UDP backend (ipip/udp-*.ts). A TUN fd is a
 * character device that net.Socket refuses ("Unsupported fd type: FILE"), and fs.read would park
 * a libuv thread-pool thread on it for good. uv_poll on the non-blocking fd costs no thread, and
 * each wake-up reads every queued packet (up to a batch) into one callback, so JS pays one call
 * per batch, not per packet. Loaded in a worker thread, it polls on that thread's loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define TUN_BATCH 64
#define TUN_FRAME 65536

static void throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  napi_create_string_utf8(env, err == EPERM || err == EACCES ? "EPERM" : "ESYSCALL", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_value errnoValue;
  napi_create_int32(env, err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_throw(env, error);
}

typedef struct tun_reader tun_reader;
struct tun_reader {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  int fd;
  int closing;
  unsigned char *frame;
  tun_reader **slot; /* the close() function's pointer to this reader, cleared when stopped */
};

static void reader_closed(uv_handle_t *h) {
  tun_reader *r = (tun_reader *)h->data;
  free(r->frame);
  free(r);
}

static void reader_stop(tun_reader *r);
/* A worker thread that exits while reading: stop polling before its loop goes away. */
static void env_cleanup(void *arg) { reader_stop((tun_reader *)arg); }

static void reader_stop(tun_reader *r) {
  if (r->closing) return;
  r->closing = 1;
  if (r->slot != NULL) { *r->slot = NULL; r->slot = NULL; }
  napi_remove_env_cleanup_hook(r->env, env_cleanup, r);
  uv_poll_stop(&r->poll);
  napi_delete_reference(r->env, r->callback);
  uv_close((uv_handle_t *)&r->poll, reader_closed);
}

/* Called on the loop thread: read the batch, hand it to JS as an array of Buffers. */
static void on_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  tun_reader *r = (tun_reader *)h->data;
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value batch;
  napi_create_array(env, &batch);
  uint32_t n = 0;
  int err = 0;
  if (status < 0) err = -status;
  while (!err && n < TUN_BATCH) {
    ssize_t got = read(r->fd, r->frame, TUN_FRAME);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    if (got == 0) break;
    napi_value buf;
    napi_create_buffer_copy(env, (size_t)got, r->frame, NULL, &buf);
    napi_set_element(env, batch, n++, buf);
  }
  napi_value cb, global, args[2];
  napi_get_reference_value(env, r->callback, &cb);
  napi_get_global(env, &global);
  if (err) {
    napi_value code, text;
    napi_create_string_utf8(env, "ESYSCALL", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &text);
    napi_create_error(env, code, text, &args[0]);
  } else {
    napi_get_null(env, &args[0]);
  }
  args[1] = batch;
  if (err) reader_stop(r);
  if (cb != NULL && (n > 0 || err)) napi_make_callback(env, NULL, global, cb, 2, args, NULL);
  napi_close_handle_scope(env, scope);
}

static napi_value reader_close(napi_env env, napi_callback_info info) {
  void *data;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  tun_reader **slot = (tun_reader **)data;
  if (*slot != NULL) reader_stop(*slot);
  return NULL;
}

/* The close() function was collected: reading goes on, but must not point at its slot. */
static void slot_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  tun_reader **slot = (tun_reader **)data;
  if (*slot != NULL) (*slot)->slot = NULL;
  free(slot);
}

/* readTun(fd, (err, packets[]) => void) -> close(): poll the fd on this thread's loop. */
napi_value tortie_read_tun(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  napi_valuetype t;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "readTun(fd, callback)");
    return NULL;
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  tun_reader *r = calloc(1, sizeof *r);
  r->frame = malloc(TUN_FRAME);
  r->env = env;
  r->fd = fd;
  napi_create_reference(env, argv[1], 1, &r->callback);
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc == 0) { r->poll.data = r; rc = uv_poll_start(&r->poll, UV_READABLE, on_readable); }
  if (rc != 0) {
    napi_delete_reference(env, r->callback);
    free(r->frame);
    free(r);
    throw_errno(env, "uv_poll", -rc);
    return NULL;
  }
  napi_add_env_cleanup_hook(env, env_cleanup, r);
  tun_reader **slot = malloc(sizeof *slot);
  *slot = r;
  r->slot = slot;
  napi_value close_fn;
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, reader_close, slot, &close_fn);
  napi_add_finalizer(env, close_fn, slot, slot_finalize, NULL, NULL);
  return close_fn;
}

