/* The interface between the generic driver (ta_driver.c) and the dispatch table that
 * test/support/wasm2c.ts generates from the wasm2c header of a TA build (ta_dispatch.c).
 * Every TA export takes i32 arguments and returns an i32 (docs/ABI.md). */
#ifndef TA_DISPATCH_H
#define TA_DISPATCH_H

#include <stdint.h>
#include "wasm-rt.h"

typedef uint32_t (*ta_thunk_t)(const uint32_t *args);

typedef struct {
  const char *name;
  int nargs;
  ta_thunk_t call;
} ta_export_t;

extern const ta_export_t ta_exports[];
extern const int ta_export_count;

/* A fresh instance (module initialised on first use). */
void ta_instantiate(void);
void ta_free(void);
wasm_rt_memory_t *ta_memory(void);

/* Provided by the driver: the TA called env.abort(message, file, line, column). */
void ta_on_abort(uint32_t message, uint32_t file, uint32_t line, uint32_t column);

#endif
