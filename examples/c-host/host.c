/* A minimal C host for the antitheft Trusted App: build/ta.wasm compiled to C by wasm2c, driven
 * through its ABI (docs/ABI.md) the way handset firmware would drive it:
 *
 *   1. boot a factory-fresh TA (UNPROVISIONED) and provision its identity (write-once);
 *   2. reboot it from the sealed state and the replay-protected counter the host keeps;
 *   3. attest to a relying party's nonce (the token a registry verifies, docs/PROTOCOL.md §4.3);
 *   4. apply a signed command (PROTOCOL.md §5): the TA alone decides whether it is authentic,
 *      meant for this device and fresh; the host stores the new sealed state, then commits the
 *      counter, and only then enforces the new lock state;
 *   5. attest again with nonce = SHA-512(command)[0..32], the proof a result carries (§4.6).
 *
 *   ta_host huk=HEX32 imei=15DIGITS [imei2=15DIGITS] oemid=HEX hwmodel=TEXT regkey=HEX32
 *           nonce=HEX [command=FILE]
 *
 * Prints one line per step (`key value...`); exits 0, or 3 when the TA refused the command,
 * 2 for bad arguments, 1 when the TA itself fails. On real hardware the HUK comes from fuses
 * only the secure world reads and the counter is an RPMB counter (docs/ABI.md, "What real
 * hardware must supply"); here they are arguments and variables. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm-rt.h"
#include "wasm-rt-impl.h"
#include "ta.h"
#include "ta_names.h"

enum { HUK_BYTES = 32, KEY_BYTES = 32, BLOB_BYTES = 422, DBGSTAT = 1, PURPOSE_GENERIC = 1 };
enum { BLOB_VERSION_OFFSET = 8, CMD_MAX = 16384 };

/* The ABI's error codes (docs/ABI.md, "Error codes"), for readable output. */
static const struct { int32_t code; const char *name; } TA_ERRORS[] = {
  {-1, "ERR_LENGTH"}, {-2, "ERR_RANGE"}, {-3, "ERR_MALFORMED"},
  {-10, "ERR_NOT_BOOTED"}, {-11, "ERR_ALREADY_BOOTED"}, {-12, "ERR_ALREADY_PROVISIONED"},
  {-13, "ERR_NOT_PROVISIONED"}, {-14, "ERR_TAMPERED"}, {-15, "ERR_IMEI_FORMAT"},
  {-16, "ERR_IMEI_CHECK_DIGIT"}, {-17, "ERR_IMEI_DUPLICATE"}, {-18, "ERR_OEMID"},
  {-19, "ERR_HWMODEL"}, {-20, "ERR_REGISTRY_KEYS"}, {-21, "ERR_NONCE_SIZE"},
  {-22, "ERR_MEASUREMENT_SIZE"}, {-23, "ERR_COUNTER"}, {-24, "ERR_DBGSTAT"}, {-25, "ERR_PURPOSE"},
  {-30, "ERR_CMD_MALFORMED"}, {-31, "ERR_CMD_ALG"}, {-32, "ERR_CMD_ACTION"},
  {-33, "ERR_CMD_MESSAGE_SIZE"}, {-34, "ERR_CMD_CONTACT_SIZE"}, {-35, "ERR_CMD_SIGNATURE"},
  {-36, "ERR_CMD_UEID"}, {-37, "ERR_CMD_DEVICE_KID"}, {-38, "ERR_CMD_REPLAY"},
};

static const char *ta_error_name(int32_t code) {
  for (size_t i = 0; i < sizeof TA_ERRORS / sizeof TA_ERRORS[0]; i++)
    if (TA_ERRORS[i].code == code) return TA_ERRORS[i].name;
  return "ERR_UNKNOWN";
}

static void die(int status, const char *what) {
  fprintf(stderr, "ta_host: %s\n", what);
  exit(status);
}

/* --- the TA instance: one per device, one call at a time (docs/ABI.md, "Instances") ---------- */

static TA_INSTANCE_T ta;
static uint8_t *io;      /* the I/O buffer in the TA's linear memory */
static uint32_t io_cap;

static void ta_start(void) {
#ifdef TA_INIT_MODULE
  static int initialised;
  if (!initialised) { TA_INIT_MODULE(); initialised = 1; }
#endif
  TA_INSTANTIATE(&ta);
  wasm_rt_memory_t *mem = TA_memory(&ta);
  uint32_t ptr = TA_io_ptr(&ta);
  io_cap = TA_io_cap(&ta);
  if ((uint64_t)ptr + io_cap > mem->size || io_cap < 16384) die(1, "the module's I/O buffer is not that of ABI v1");
  io = mem->data + ptr; /* the TA never grows its memory (one page, docs/ABI.md "Memory") */
}

static void ta_stop(void) { TA_FREE(&ta); }

/* Calls an export under wasm2c's trap handler. The ABI promises no argument or input makes the
 * TA trap; a host still must not run on after one, so a trap ends the program. */
#define TA_CALL(result, call)                                         \
  do {                                                                \
    if (wasm_rt_impl_try() != 0) die(1, "the TA trapped");            \
    result = (int32_t)(call);                                         \
  } while (0)

/* Copies `len` bytes to io + off, refusing anything that would not fit. */
static void io_put(uint32_t off, const uint8_t *data, size_t len) {
  if (off > io_cap || len > io_cap - off) die(2, "input larger than the TA's I/O buffer");
  memcpy(io + off, data, len);
}

/* --- arguments -------------------------------------------------------------------------------- */

static const char *arg(int argc, char **argv, const char *name) {
  size_t n = strlen(name);
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') return argv[i] + n + 1;
  return NULL;
}

static size_t parse_hex(const char *name, const char *text, uint8_t *out, size_t min, size_t max) {
  size_t len = text ? strlen(text) : 0;
  if (!text || len % 2 || len / 2 < min || len / 2 > max) {
    fprintf(stderr, "ta_host: %s must be %zu..%zu bytes of hex\n", name, min, max);
    exit(2);
  }
  for (size_t i = 0; i < len / 2; i++) {
    unsigned v;
    if (sscanf(text + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", text[2 * i + 1])) {
      fprintf(stderr, "ta_host: %s is not hex\n", name);
      exit(2);
    }
    out[i] = (uint8_t)v;
  }
  return len / 2;
}

static size_t read_file(const char *path, uint8_t *out, size_t max) {
  FILE *f = fopen(path, "rb");
  if (!f) die(2, "cannot open the command file");
  size_t n = fread(out, 1, max, f);
  int more = fgetc(f) != EOF;
  fclose(f);
  if (more) die(2, "the command file is larger than the TA's I/O buffer");
  return n;
}

static void print_hex(const char *key, const uint8_t *p, size_t n) {
  printf("%s ", key);
  for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
  putchar('\n');
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* --- the host's persistent state: sealed blob and replay-protected counter ------------------- */

static uint8_t sealed[BLOB_BYTES];
static size_t sealed_len;
static uint32_t counter;

/* Two-step commit (docs/ABI.md, "Versions and the counter"): store the blob, then set the
 * counter to its version. Only then may the host act on the new state. */
static void commit(int32_t len) {
  if (len != BLOB_BYTES) die(1, "the TA returned a sealed state of an unexpected size");
  memcpy(sealed, io, BLOB_BYTES);
  sealed_len = BLOB_BYTES;
  counter = le32(sealed + BLOB_VERSION_OFFSET);
}

/* lock_state() record (docs/ABI.md, "lock_state record"). */
static void print_lock(const char *when) {
  int32_t r;
  TA_CALL(r, TA_lock_state(&ta));
  if (r < 18) die(1, "lock_state failed");
  unsigned mlen = io[16], clen = io[17];
  if (18u + mlen + clen > (unsigned)r) die(1, "lock_state record is inconsistent");
  printf("lock %s state=%u ta_state=%u seq=%" PRIu32 " bootcount=%" PRIu32 " version=%" PRIu32 " message=\"%.*s\" contact=\"%.*s\"\n",
         when, io[0], io[1], le32(io + 4), le32(io + 8), le32(io + 12), (int)mlen, (const char *)io + 18, (int)clen,
         (const char *)io + 18 + mlen);
}

static void boot(const uint8_t *huk) {
  int32_t r;
  io_put(0, huk, HUK_BYTES);
  io_put(HUK_BYTES, sealed, sealed_len);
  TA_CALL(r, TA_boot(&ta, (uint32_t)sealed_len, counter, DBGSTAT));
  if (r < 0) { fprintf(stderr, "ta_host: boot refused: %d %s\n", r, ta_error_name(r)); exit(1); }
  if (r > 0) commit(r); /* NORMAL: a new blob (bootcount + 1) to store before anything else */
}

static void attest(const char *key, const uint8_t *nonce, size_t nonce_len) {
  int32_t r;
  io_put(0, nonce, nonce_len);
  TA_CALL(r, TA_attest(&ta, (uint32_t)nonce_len, 0, PURPOSE_GENERIC));
  if (r < 0) { fprintf(stderr, "ta_host: attest refused: %d %s\n", r, ta_error_name(r)); exit(1); }
  print_hex(key, io, (size_t)r);
}

static int32_t provision(const char *imei, const char *imei2, const uint8_t *oemid, size_t oemid_len,
                         const char *hwmodel, const uint8_t *regkey) {
  int32_t r;
  size_t off = 0, imei2_len = imei2 ? 15 : 0, model_len = strlen(hwmodel);
  io_put(off, (const uint8_t *)imei, 15), off += 15;
  if (imei2) io_put(off, (const uint8_t *)imei2, 15), off += 15;
  io_put(off, oemid, oemid_len), off += oemid_len;
  io_put(off, (const uint8_t *)hwmodel, model_len), off += model_len;
  io_put(off, regkey, KEY_BYTES);
  TA_CALL(r, TA_provision(&ta, (uint32_t)imei2_len, (uint32_t)oemid_len, (uint32_t)model_len, 1));
  return r;
}

static int32_t apply_command(const uint8_t *command, size_t len) {
  int32_t r;
  io_put(0, command, len);
  TA_CALL(r, TA_apply_command(&ta, (uint32_t)len));
  return r;
}

static void sha512(const uint8_t *data, size_t len, uint8_t out[64]) {
  int32_t r;
  io_put(0, data, len);
  TA_CALL(r, TA_sha512(&ta, (uint32_t)len));
  if (r != 64) die(1, "sha512 failed");
  memcpy(out, io, 64);
}

static void device_public(void) {
  int32_t r;
  TA_CALL(r, TA_device_public(&ta));
  if (r != KEY_BYTES) die(1, "device_public failed");
  print_hex("device-public", io, KEY_BYTES);
}

static unsigned ta_state(void) {
  int32_t r;
  TA_CALL(r, TA_lock_state(&ta));
  if (r < 18) die(1, "lock_state failed");
  return io[1];
}

int main(int argc, char **argv) {
  uint8_t huk[HUK_BYTES], regkey[KEY_BYTES], oemid[16], nonce[64];
  static uint8_t command[CMD_MAX];
  const char *imei = arg(argc, argv, "imei"), *imei2 = arg(argc, argv, "imei2");
  const char *hwmodel = arg(argc, argv, "hwmodel"), *command_file = arg(argc, argv, "command");
  parse_hex("huk", arg(argc, argv, "huk"), huk, HUK_BYTES, HUK_BYTES);
  parse_hex("regkey", arg(argc, argv, "regkey"), regkey, KEY_BYTES, KEY_BYTES);
  size_t oemid_len = parse_hex("oemid", arg(argc, argv, "oemid"), oemid, 3, 16);
  size_t nonce_len = parse_hex("nonce", arg(argc, argv, "nonce"), nonce, 8, 64);
  if (!imei || strlen(imei) != 15 || (imei2 && strlen(imei2) != 15) || !hwmodel) {
    die(2, "usage: ta_host huk=HEX32 imei=15DIGITS [imei2=15DIGITS] oemid=HEX hwmodel=TEXT regkey=HEX32 nonce=HEX [command=FILE]");
  }
  wasm_rt_init();

  /* 1. Factory: a fresh TA boots UNPROVISIONED (no blob, counter 0); provision it once. */
  ta_start();
  boot(huk);
  printf("boot ta_state=%u\n", ta_state());
  int32_t r = provision(imei, imei2, oemid, oemid_len, hwmodel, regkey);
  if (r < 0) { printf("provision refused %d %s\n", r, ta_error_name(r)); return 1; }
  commit(r);
  printf("provision version=%" PRIu32 "\n", counter);
  ta_stop();

  /* 2. A reboot is a new instance, booted from what the host kept. */
  ta_start();
  boot(huk);
  memset(huk, 0, sizeof huk); /* the TA keeps the HUK; the host needs it no more */
  device_public();
  print_lock("booted");

  /* 3. The answer to a challenge. */
  attest("token", nonce, nonce_len);

  if (command_file) {
    /* 4. A signed command, as received: the TA checks signature, addressee and freshness. */
    size_t cmd_len = read_file(command_file, command, sizeof command);
    r = apply_command(command, cmd_len);
    if (r >= 0) {
      commit(r); /* store, commit the counter, then enforce */
      printf("apply accepted counter=%" PRIu32 "\n", counter);
    } else {
      printf("apply refused %d %s\n", r, ta_error_name(r)); /* nothing changed in the TA */
    }
    print_lock("now");

    /* 5. The proof for the result: nonce = SHA-512(command bytes)[0..32] (PROTOCOL.md §4.6). */
    uint8_t digest[64];
    sha512(command, cmd_len, digest);
    attest("result-token", digest, 32);
    if (r < 0) { ta_stop(); wasm_rt_free(); return 3; }
  }
  ta_stop();
  wasm_rt_free();
  return 0;
}
