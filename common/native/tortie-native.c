/*
 * tortie_native: the few socket and device calls Node.js does not expose (N-API, C, Linux).
 *
 *   tcpSocket(family 4|6) -> fd        unconnected, non-blocking, close-on-exec TCP socket
 *   bind(fd, address, port)            SO_REUSEADDR; IPv6 sockets stay dual-stack (V6ONLY off)
 *   setMd5(fd, peer, key | null)       TCP_MD5SIG (RFC 2385) for one peer address; null clears
 *   setTtl(fd, ttl)                    IP_TTL / IPV6_UNICAST_HOPS (both on an IPv6 socket: mapped IPv4)
 *   setMinTtl(fd, minTtl)              IP_MINTTL / IPV6_MINHOPCOUNT (RFC 5082 GTSM); 0 clears
 *   setTtlFilter(fd, [{ address, minTtl }])  classic BPF on a listener: drop segments from
 *                                      those addresses arriving below their minimum TTL
 *   openTun(name) -> { fd, name }      /dev/net/tun, IFF_TUN | IFF_NO_PI (bare IP packets)
 *   readTun(fd, cb) -> close()         poll a TUN fd on this thread's loop (tun-reader.c)
 *   close(fd)
 *
 * Errors are thrown as Error objects with `code` ("EINVAL"...), `errno` and `syscall`, like
 * Node's own. Every function validates its arguments and never aborts the process.
 */
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/filter.h>
#include <stdint.h>
#include <stdlib.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef IP_MINTTL
#define IP_MINTTL 21
#endif
#ifndef IPV6_MINHOPCOUNT
#define IPV6_MINHOPCOUNT 73
#endif

static const char *errno_code(int e) {
  switch (e) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ENOENT: return "ENOENT";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EBUSY: return "EBUSY";
    case ENODEV: return "ENODEV";
    case ENOTSOCK: return "ENOTSOCK";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EEXIST: return "EEXIST";
    default: return "EUNKNOWN";
  }
}

/* Throw an Error shaped like Node's system errors; returns NULL for the caller to return. */
static napi_value throw_errno(napi_env env, int e, const char *syscall, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s %s: %s (%s)", syscall, what, strerror(e), errno_code(e));
  napi_value m, code, err, num, sc;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, errno_code(e), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, m, &err);
  napi_create_int32(env, -e, &num);
  napi_set_named_property(env, err, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, err, "syscall", sc);
  napi_throw(env, err);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG", msg);
  return NULL;
}

static int arg_int(napi_env env, napi_value v, int32_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  return napi_get_value_int32(env, v, out) == napi_ok;
}

/* A string argument into buf (NUL-terminated); 0 when not a string or too long. */
static int arg_str(napi_env env, napi_value v, char *buf, size_t size, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return 0;
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok || n >= size) return 0;
  if (napi_get_value_string_utf8(env, v, buf, size, &n) != napi_ok) return 0;
  if (len) *len = n;
  return 1;
}

static napi_value make_int(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

static int socket_domain(int fd) {
  int d = 0;
  socklen_t l = sizeof d;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &d, &l) < 0) return -1;
  return d;
}

/*
 * Fill `ss` for `text` on a socket of `domain`: an IPv4 address on an IPv6 socket becomes
 * ::ffff:a.b.c.d (the kernel files MD5 keys for mapped peers under the IPv4 address).
 */
static int make_addr(int domain, const char *text, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, text, &a4) == 1) {
    if (domain == AF_INET) {
      struct sockaddr_in *s = (struct sockaddr_in *)ss;
      s->sin_family = AF_INET; s->sin_port = htons(port); s->sin_addr = a4;
      *len = sizeof *s;
      return 1;
    }
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
    s->sin6_family = AF_INET6; s->sin6_port = htons(port);
    s->sin6_addr.s6_addr[10] = 0xff; s->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&s->sin6_addr.s6_addr[12], &a4, 4);
    *len = sizeof *s;
    return 1;
  }
  if (inet_pton(AF_INET6, text, &a6) == 1 && domain == AF_INET6) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
    s->sin6_family = AF_INET6; s->sin6_port = htons(port); s->sin6_addr = a6;
    *len = sizeof *s;
    return 1;
  }
  return 0;
}

static napi_value js_tcp_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fam;
  if (argc < 1 || !arg_int(env, argv[0], &fam) || (fam != 4 && fam != 6)) return throw_type(env, "tcpSocket(family): family must be 4 or 6");
  int fd = socket(fam == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", fam == 4 ? "AF_INET" : "AF_INET6");
  return make_int(env, fd);
}

static napi_value js_bind(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, port;
  char addr[INET6_ADDRSTRLEN + 1];
  if (argc < 3 || !arg_int(env, argv[0], &fd) || !arg_str(env, argv[1], addr, sizeof addr, NULL) || !arg_int(env, argv[2], &port) || port < 0 || port > 65535) {
    return throw_type(env, "bind(fd, address, port): bad arguments");
  }
  int domain = socket_domain(fd);
  if (domain < 0) return throw_errno(env, errno, "getsockopt", "SO_DOMAIN");
  struct sockaddr_storage ss;
  socklen_t len;
  if (!make_addr(domain, addr, port, &ss, &len)) return throw_errno(env, EAFNOSUPPORT, "bind", addr);
  int one = 1, zero = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) return throw_errno(env, errno, "setsockopt", "SO_REUSEADDR");
  if (domain == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0) return throw_errno(env, errno, "setsockopt", "IPV6_V6ONLY");
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) return throw_errno(env, errno, "bind", addr);
  return NULL;
}

static napi_value js_set_md5(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  char addr[INET6_ADDRSTRLEN + 1];
  char key[TCP_MD5SIG_MAXKEYLEN + 1];
  size_t keylen = 0;
  if (argc < 3 || !arg_int(env, argv[0], &fd) || !arg_str(env, argv[1], addr, sizeof addr, NULL)) {
    return throw_type(env, "setMd5(fd, peerAddress, key | null): bad arguments");
  }
  napi_valuetype kt;
  napi_typeof(env, argv[2], &kt);
  if (kt != napi_null && kt != napi_undefined) {
    if (!arg_str(env, argv[2], key, sizeof key, &keylen) || keylen == 0) {
      return throw_type(env, "setMd5: the key must be a string of 1..80 bytes");
    }
  }
  int domain = socket_domain(fd);
  if (domain < 0) return throw_errno(env, errno, "getsockopt", "SO_DOMAIN");
  struct tcp_md5sig sig;
  memset(&sig, 0, sizeof sig);
  socklen_t len;
  if (!make_addr(domain, addr, 0, (struct sockaddr_storage *)&sig.tcpm_addr, &len)) return throw_errno(env, EAFNOSUPPORT, "setsockopt TCP_MD5SIG", addr);
  sig.tcpm_keylen = (uint16_t)keylen;
  memcpy(sig.tcpm_key, key, keylen);
  int rc = setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig);
  memset(&sig, 0, sizeof sig);
  memset(key, 0, sizeof key);
  /* Clearing a key that was never set is not an error. */
  if (rc < 0 && !(keylen == 0 && errno == ENOENT)) return throw_errno(env, errno, "setsockopt TCP_MD5SIG", addr);
  return NULL;
}

static napi_value set_hops(napi_env env, napi_callback_info info, int v4opt, int v6opt, const char *name, int lo) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, v;
  if (argc < 2 || !arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &v) || v < lo || v > 255) {
    return throw_type(env, lo == 0 ? "bad arguments: (fd, 0..255)" : "bad arguments: (fd, 1..255)");
  }
  int domain = socket_domain(fd);
  if (domain < 0) return throw_errno(env, errno, "getsockopt", "SO_DOMAIN");
  if (domain == AF_INET6) {
    if (setsockopt(fd, IPPROTO_IPV6, v6opt, &v, sizeof v) < 0) return throw_errno(env, errno, "setsockopt", name);
    /* An IPv6 socket also carries IPv4-mapped traffic, which follows the IPv4 option. */
  }
  if (setsockopt(fd, IPPROTO_IP, v4opt, &v, sizeof v) < 0 && domain == AF_INET) return throw_errno(env, errno, "setsockopt", name);
  return NULL;
}

static napi_value js_set_ttl(napi_env env, napi_callback_info info) {
  return set_hops(env, info, IP_TTL, IPV6_UNICAST_HOPS, "IP_TTL/IPV6_UNICAST_HOPS", 1);
}

static napi_value js_set_min_ttl(napi_env env, napi_callback_info info) {
  return set_hops(env, info, IP_MINTTL, IPV6_MINHOPCOUNT, "IP_MINTTL/IPV6_MINHOPCOUNT", 0);
}

/*
 * GTSM on a shared listener. IP_MINTTL on the accepted socket comes too late: the peer's first
 * segments (its OPEN follows the handshake at once) are queued before accept() returns, and the
 * listener itself serves every peer, so it cannot carry one peer's minimum. A socket filter on
 * the listener runs for the SYN and the handshake's ACK (and is inherited by the accepted
 * socket): per GTSM peer, drop what comes from its address with a lower TTL / hop limit.
 * Program: IPv4 section (one 6-instruction block per IPv4 peer), then IPv6 (12 per peer); all
 * jumps inside a block are short, the one long jump uses BPF_JA's 32-bit offset.
 */
#define NET(off) ((uint32_t)(SKF_NET_OFF + (off)))
#define KEEP 0xffffffffu

static napi_value js_set_ttl_filter(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  bool is_array = false;
  if (argc < 2 || !arg_int(env, argv[0], &fd) || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    return throw_type(env, "setTtlFilter(fd, [{ address, minTtl }]): bad arguments");
  }
  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  if (n == 0) {
    int unused = 0; /* the kernel wants an int-sized option even here */
    if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) < 0 && errno != ENOENT) return throw_errno(env, errno, "setsockopt", "SO_DETACH_FILTER");
    return NULL;
  }
  if (n > 2000) return throw_type(env, "setTtlFilter: at most 2000 entries");
  struct entry { int v6; uint8_t addr[16]; int32_t min; } *es = calloc(n, sizeof *es);
  if (es == NULL) return throw_errno(env, ENOMEM, "setTtlFilter", "calloc");
  uint32_t n4 = 0, n6 = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e, a, m;
    char text[INET6_ADDRSTRLEN + 1];
    if (napi_get_element(env, argv[1], i, &e) != napi_ok || napi_get_named_property(env, e, "address", &a) != napi_ok ||
        napi_get_named_property(env, e, "minTtl", &m) != napi_ok || !arg_str(env, a, text, sizeof text, NULL) ||
        !arg_int(env, m, &es[i].min) || es[i].min < 1 || es[i].min > 255) {
      free(es);
      return throw_type(env, "setTtlFilter: each entry needs address (IP text) and minTtl 1..255");
    }
    if (inet_pton(AF_INET, text, es[i].addr) == 1) { es[i].v6 = 0; n4++; }
    else if (inet_pton(AF_INET6, text, es[i].addr) == 1) { es[i].v6 = 1; n6++; }
    else { free(es); return throw_type(env, "setTtlFilter: address is not an IP address"); }
  }
  size_t len = 4 + 6 * n4 + 1 + 4 + 12 * n6 + 1;
  struct sock_filter *p = calloc(len, sizeof *p), *q = p;
  if (p == NULL) { free(es); return throw_errno(env, ENOMEM, "setTtlFilter", "calloc"); }
#define INS(c, t, f, k) (*q++ = (struct sock_filter)BPF_JUMP((c), (k), (t), (f)))
  INS(BPF_LD | BPF_B | BPF_ABS, 0, 0, NET(0));
  INS(BPF_ALU | BPF_AND | BPF_K, 0, 0, 0xf0);
  INS(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0x40);
  INS(BPF_JMP | BPF_JA, 0, 0, 6 * n4 + 1);            /* not IPv4: to the IPv6 section */
  for (uint32_t i = 0; i < n; i++) {
    if (es[i].v6) continue;
    const uint8_t *b = es[i].addr;
    INS(BPF_LD | BPF_W | BPF_ABS, 0, 0, NET(12));      /* source address */
    INS(BPF_JMP | BPF_JEQ | BPF_K, 0, 4, ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3]);
    INS(BPF_LD | BPF_B | BPF_ABS, 0, 0, NET(8));       /* TTL */
    INS(BPF_JMP | BPF_JGE | BPF_K, 0, 1, (uint32_t)es[i].min);
    INS(BPF_RET | BPF_K, 0, 0, KEEP);
    INS(BPF_RET | BPF_K, 0, 0, 0);
  }
  INS(BPF_RET | BPF_K, 0, 0, KEEP);
  INS(BPF_LD | BPF_B | BPF_ABS, 0, 0, NET(0));
  INS(BPF_ALU | BPF_AND | BPF_K, 0, 0, 0xf0);
  INS(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0x60);
  INS(BPF_RET | BPF_K, 0, 0, KEEP);
  for (uint32_t i = 0; i < n; i++) {
    if (!es[i].v6) continue;
    for (int w = 0; w < 4; w++) {
      const uint8_t *b = es[i].addr + 4 * w;
      INS(BPF_LD | BPF_W | BPF_ABS, 0, 0, NET(8 + 4 * w));
      INS(BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)(10 - 2 * w), ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3]);
    }
    INS(BPF_LD | BPF_B | BPF_ABS, 0, 0, NET(7));       /* hop limit */
    INS(BPF_JMP | BPF_JGE | BPF_K, 0, 1, (uint32_t)es[i].min);
    INS(BPF_RET | BPF_K, 0, 0, KEEP);
    INS(BPF_RET | BPF_K, 0, 0, 0);
  }
  INS(BPF_RET | BPF_K, 0, 0, KEEP);
#undef INS
  struct sock_fprog prog = { .len = (unsigned short)(q - p), .filter = p };
  int rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
  int e = errno;
  free(p);
  free(es);
  if (rc < 0) return throw_errno(env, e, "setsockopt", "SO_ATTACH_FILTER");
  return NULL;
}

static napi_value js_open_tun(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[IFNAMSIZ];
  size_t n = 0;
  if (argc < 1 || !arg_str(env, argv[0], name, sizeof name, &n)) return throw_type(env, "openTun(name): name must be a string of at most 15 bytes");
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return throw_errno(env, errno, "open", "/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, n);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "ioctl TUNSETIFF", name);
  }
  napi_value r, jfd, jname;
  napi_create_object(env, &r);
  napi_create_int32(env, fd, &jfd);
  ifr.ifr_name[IFNAMSIZ - 1] = 0;
  napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &jname);
  napi_set_named_property(env, r, "fd", jfd);
  napi_set_named_property(env, r, "name", jname);
  return r;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !arg_int(env, argv[0], &fd) || fd < 0) return throw_type(env, "close(fd): bad fd");
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, errno, "close", "fd");
  return NULL;
}

/* tun-reader.c */
napi_value tortie_read_tun(napi_env env, napi_callback_info info);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "tcpSocket", NULL, js_tcp_socket, NULL, NULL, NULL, napi_enumerable, NULL },
    { "bind", NULL, js_bind, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setMd5", NULL, js_set_md5, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setTtl", NULL, js_set_ttl, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setMinTtl", NULL, js_set_min_ttl, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setTtlFilter", NULL, js_set_ttl_filter, NULL, NULL, NULL, napi_enumerable, NULL },
    { "openTun", NULL, js_open_tun, NULL, NULL, NULL, napi_enumerable, NULL },
    { "readTun", NULL, tortie_read_tun, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
