/* A generic driver for a TA compiled to C by wasm2c: it knows no export by name, only the
 * dispatch table generated from the module (ta_dispatch.c). It reads commands from stdin,
 * one per line, and answers each on stdout with one line:
 *
 *   call <export> <i32 arg>... [<hex input>|-]   write the input at io, call, zero the input
 *                                                bytes the output did not overwrite; prints
 *                                                "<ret> <hex of io[0..ret)>" ("-" if empty),
 *                                                or "trap", "abort", "poisoned" (after a trap)
 *   secret <offset> <len>   mark io[offset, offset+len) secret (undefined for valgrind memcheck)
 *                           right after the next call writes its input; prints "ok". The range
 *                           may reach past the I/O buffer into the rest of linear memory (e.g.
 *                           the HUK the TA keeps from boot on); outside memory: "error bad-secret"
 *   reset                   a fresh instance (state carried so far is dropped); prints "ok"
 *   info                    prints "<io_ptr> <io_cap>"
 *   exports                 prints "<name>/<nargs>" for every function export
 *   # ... or an empty line  ignored (no output)
 *
 * Calls keep the instance's state between lines (boot, provision, then attest). Built with
 * -DTA_MEMCHECK, secret bytes are marked with VALGRIND_MAKE_MEM_UNDEFINED and everything the
 * driver prints is declassified first (VALGRIND_MAKE_MEM_DEFINED), so memcheck reports only a
 * branch or a memory index that depends on a secret INSIDE the TA (ctgrind). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm-rt.h"
#include "wasm-rt-impl.h"
#include "ta_dispatch.h"

#ifdef TA_MEMCHECK
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#define MAX_ARGS 16
#define MAX_SECRETS 16

static int aborted, poisoned;
static uint32_t io_ptr, io_cap;
static struct { uint32_t off, len; } secrets[MAX_SECRETS];
static int nsecrets;

void ta_on_abort(uint32_t message, uint32_t file, uint32_t line, uint32_t column) {
  (void)message; (void)file; (void)line; (void)column;
  aborted = 1;
  wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}

static const ta_export_t *find_export(const char *name) {
  for (int i = 0; i < ta_export_count; i++)
    if (strcmp(ta_exports[i].name, name) == 0) return &ta_exports[i];
  return NULL;
}

/* Calls an export under the trap handler; returns 0 and sets *ret, or -1 on trap/abort. */
static int invoke(const ta_export_t *e, const uint32_t *args, uint32_t *ret) {
  aborted = 0;
  wasm_rt_trap_t trap = wasm_rt_impl_try();
  if (trap != WASM_RT_TRAP_NONE) return -1;
  *ret = e->call(args);
  return 0;
}

static void start(void) {
  ta_instantiate();
  uint32_t r;
  const ta_export_t *p = find_export("io_ptr"), *c = find_export("io_cap");
  if (!p || !c || invoke(p, NULL, &io_ptr) || invoke(c, NULL, &r)) {
    fprintf(stderr, "ta_driver: the module has no working io_ptr/io_cap\n");
    exit(2);
  }
  io_cap = r;
  wasm_rt_memory_t *m = ta_memory();
  if ((uint64_t)io_ptr + io_cap > m->size) {
    fprintf(stderr, "ta_driver: the I/O buffer lies outside memory\n");
    exit(2);
  }
  poisoned = 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void print_hex(const uint8_t *p, uint32_t n) {
  static const char digits[] = "0123456789abcdef";
  if (n == 0) { fputc('-', stdout); return; }
  for (uint32_t i = 0; i < n; i++) {
    fputc(digits[p[i] >> 4], stdout);
    fputc(digits[p[i] & 15], stdout);
  }
}

static void fail(const char *why) { printf("error %s\n", why); }

static void do_call(char *save) {
  char *name = strtok_r(NULL, " \t", &save);
  const ta_export_t *e = name ? find_export(name) : NULL;
  if (!e) { fail("unknown-export"); return; }
  uint32_t args[MAX_ARGS] = {0};
  for (int i = 0; i < e->nargs; i++) {
    char *tok = strtok_r(NULL, " \t", &save), *end;
    if (!tok) { fail("missing-argument"); return; }
    long long v = strtoll(tok, &end, 10);
    if (*end || v < INT32_MIN || v > INT32_MAX) { fail("bad-argument"); return; }
    args[i] = (uint32_t)(int32_t)v;
  }
  char *hex = strtok_r(NULL, " \t", &save);
  if (hex && strcmp(hex, "-") == 0) hex = NULL;
  size_t hexlen = hex ? strlen(hex) : 0;
  if (hexlen % 2 || hexlen / 2 > io_cap) { fail("bad-input"); return; }
  if (strtok_r(NULL, " \t", &save)) { fail("extra-tokens"); return; }
  if (poisoned) { puts("poisoned"); nsecrets = 0; return; }

  uint8_t *mem = ta_memory()->data, *io = mem + io_ptr;
  uint32_t inlen = (uint32_t)(hexlen / 2);
  for (uint32_t i = 0; i < inlen; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) { fail("bad-input"); return; }
    io[i] = (uint8_t)(hi << 4 | lo);
  }
  for (int i = 0; i < nsecrets; i++)
    if ((uint64_t)io_ptr + secrets[i].off + secrets[i].len <= ta_memory()->size)
      VALGRIND_MAKE_MEM_UNDEFINED(io + secrets[i].off, secrets[i].len);
  nsecrets = 0;

  uint32_t ret;
  int trapped = invoke(e, args, &ret);
  mem = ta_memory()->data; /* memory.grow may have moved it */
  io = mem + io_ptr;
  /* Declassify: whatever the call computed is now public (the check is over the call). */
  VALGRIND_MAKE_MEM_DEFINED(mem, ta_memory()->size);
  VALGRIND_MAKE_MEM_DEFINED(&ret, sizeof ret);
  if (trapped) {
    poisoned = 1;
    puts(aborted ? "abort" : "trap");
    return;
  }
  int32_t status = (int32_t)ret;
  if (status > (int32_t)io_cap) { puts("error bad-status"); return; }
  uint32_t out = status > 0 ? (uint32_t)status : 0;
  printf("%" PRId32 " ", status);
  print_hex(io, out);
  fputc('\n', stdout);
  if (inlen > out) memset(io + out, 0, inlen - out);
}

int main(void) {
  wasm_rt_init();
  start();
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    char *save = NULL, *cmd = strtok_r(line, " \t", &save);
    if (!cmd || cmd[0] == '#') continue;
    if (strcmp(cmd, "call") == 0) {
      do_call(save);
    } else if (strcmp(cmd, "secret") == 0) {
      char *o = strtok_r(NULL, " \t", &save), *l = strtok_r(NULL, " \t", &save);
      char *oe = NULL, *le = NULL;
      unsigned long long off = o ? strtoull(o, &oe, 10) : 0, len = l ? strtoull(l, &le, 10) : 0;
      unsigned long long room = ta_memory()->size - io_ptr; /* bytes from io_ptr to the end of memory */
      if (!o || !l || *oe || *le || nsecrets == MAX_SECRETS || off > room || len > room - off) {
        fail("bad-secret");
        continue;
      }
      secrets[nsecrets].off = (uint32_t)off;
      secrets[nsecrets].len = (uint32_t)len;
      nsecrets++;
      puts("ok");
    } else if (strcmp(cmd, "reset") == 0) {
      ta_free();
      start();
      puts("ok");
    } else if (strcmp(cmd, "info") == 0) {
      printf("%" PRIu32 " %" PRIu32 "\n", io_ptr, io_cap);
    } else if (strcmp(cmd, "exports") == 0) {
      for (int i = 0; i < ta_export_count; i++) printf("%s/%d%c", ta_exports[i].name, ta_exports[i].nargs, i + 1 < ta_export_count ? ' ' : '\n');
    } else {
      fail("unknown-command");
    }
    fflush(stdout);
  }
  free(line);
  ta_free();
  wasm_rt_free();
  return 0;
}
