/*
 * Native libsodium reference for bench/oprf.mjs: how many RFC 9497 BlindEvaluate operations
 * (skS * blindedElement on ristretto255) one core does with libsodium compiled for this machine.
 * It is the yardstick "ours >= 0.8 x native" is measured against. crypto_scalarmult_ristretto255
 * decodes (so validates) the element, multiplies and encodes, and refuses an identity result: the
 * same work a server does per element.
 *
 * Built at bench time: cc bench/native-reference.c -lsodium -O2 -o <tmp>
 * Usage: native-reference [milliseconds, default 2000]
 * Prints one JSON line: {"opsPerSecond": ..., "libsodium": "<version>"}.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ELEMENTS 1024

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  double min_seconds = (argc > 1 ? atof(argv[1]) : 2000.0) / 1000.0;
  static unsigned char elements[ELEMENTS][crypto_core_ristretto255_BYTES];
  unsigned char key[crypto_core_ristretto255_SCALARBYTES];
  unsigned char out[crypto_core_ristretto255_BYTES];
  unsigned char check = 0;
  unsigned long ops = 0;
  double start, elapsed;

  if (sodium_init() < 0) return 1;
  crypto_core_ristretto255_scalar_random(key);
  /* A blinded element is r * HashToGroup(x): a uniformly random group element. */
  for (int i = 0; i < ELEMENTS; i++) crypto_core_ristretto255_random(elements[i]);

  start = now_seconds();
  do {
    for (int i = 0; i < ELEMENTS; i++) {
      if (crypto_scalarmult_ristretto255(out, key, elements[i]) != 0) return 2;
      check ^= out[0];
    }
    ops += ELEMENTS;
    elapsed = now_seconds() - start;
  } while (elapsed < min_seconds);

  printf("{\"opsPerSecond\":%.1f,\"libsodium\":\"%s\",\"check\":%d}\n", (double)ops / elapsed,
         sodium_version_string(), check);
  return 0;
}
