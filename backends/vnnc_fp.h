/* vnnc_fp.h: round a double into an emulated binary format, bit-exactly (issue 4, item 3).
 *
 * A format eXmY has ebits exponent bits and mbits stored fraction bits (precision
 * p = mbits + 1), bias = 2^(ebits-1) - 1, emin = 1 - bias, and subnormals. kind:
 *   VNNC_FMT_IEEE    the all-ones exponent is inf/NaN; emax = bias,
 *                    max = (2 - 2^-m) * 2^emax   (f32 e8m23, f16 e5m10, bf16 e8m7, fp8-e5m2)
 *   VNNC_FMT_FN      OCP "fn" (fp8-e4m3fn): no infinities; the all-ones exponent holds finite
 *                    values except the one NaN fraction (all ones); emax = bias + 1,
 *                    max = (2 - 2^(1-m)) * 2^emax  (e4m3fn: 1.75 * 2^8 = 448).
 *                    Overflow and +-inf give NaN (OCP non-saturating conversion).
 *   VNNC_FMT_FN_SAT  the same values; overflow and +-inf give +-max (OCP saturating).
 *
 * vnnc_round(x) is x correctly rounded in `mode` (IEEE 754 sec. 4.3, 7.4): rounded as if the
 * exponent range were unbounded; if that exceeds max it overflows, and the result is
 *   IEEE:   RN -> +-inf; RZ -> +-max; RU -> +inf / -max; RD -> +max / -inf (by sign of x);
 *   FN:     the IEEE result with inf replaced by NaN, the FN format's stand-in for infinity:
 *           a mode that rounds the overflow toward zero (RZ; RD for x > 0; RU for x < 0)
 *           gives +-max, as IEEE does, the others NaN. OCP defines only RN; this keeps RZ
 *           and "RD of a positive" from ever producing NaN from a finite x;
 *   FN_SAT: +-max in every mode.
 * A result that rounds to zero keeps the sign of x; NaN gives NaN; +-inf gives +-inf (IEEE),
 * NaN (FN), +-max (FN_SAT).
 *
 * Formats: vnnc_round is exact for every format whose values are all doubles:
 * 2 <= ebits <= 11 (<= 10 for FN, whose emax = bias + 1 is 1024 at ebits = 11) and
 * 1 <= mbits <= 52. It never reads the caller's rounding mode: every operation it performs is
 * exact (ilogb; ldexp to a value in range; floor, fmod; y - floor(y); n + 1 with n < 2^53),
 * and an exact result is the same in every mode.
 *
 * The double-then-round scheme: a kernel computes each operation (+ - * / sqrt) on format
 * values in double with fesetround(vnnc_fe_mode(mode)), then calls vnnc_round(r, .., mode).
 * This equals rounding the exact result once when p <= 25 (mbits <= 24: f32, f16, bf16, fp8,
 * custom eXmY with Y <= 24):
 *   RN: rounding to nearest twice, first to 53 bits then to p bits, is innocuous when
 *       53 >= 2p + 2 (Figueroa, "When is double rounding innocuous?", SIGNUM 1995);
 *   RZ, RU, RD: every format value is a double, so the double grid refines the format's grid
 *       and two directed roundings in the same direction compose to one (the first cannot
 *       cross a format value), overflow of double (inf or DBL_MAX) included.
 * The argument needs the double result to be normal; for ebits = 11 the format's subnormals
 * lie below 2^-1022, where double keeps fewer bits, so there the scheme is not covered.
 * With p = 27 it fails: 1 + (2^-27 + 2^-53) in RN is the double 1 + 2^-27, a tie that goes
 * to 1, while the exact sum rounds to 1 + 2^-26.
 * Build kernels that call fesetround with -frounding-math (and -ffp-contract=off).
 */
#ifndef VNNC_FP_H
#define VNNC_FP_H

#include <fenv.h>
#include <math.h>

#define VNNC_RN 0 /* to nearest, ties to even */
#define VNNC_RZ 1 /* toward zero */
#define VNNC_RU 2 /* toward +inf */
#define VNNC_RD 3 /* toward -inf */

#define VNNC_FMT_IEEE 0
#define VNNC_FMT_FN 1
#define VNNC_FMT_FN_SAT 2

/* The <fenv.h> mode that computes in double in the same direction as `mode`. */
static inline int vnnc_fe_mode(int mode) {
  switch (mode) {
  case VNNC_RZ: return FE_TOWARDZERO;
  case VNNC_RU: return FE_UPWARD;
  case VNNC_RD: return FE_DOWNWARD;
  default: return FE_TONEAREST;
  }
}

/* Largest exponent of a finite value. */
static inline int vnnc_fmt_emax(int ebits, int kind) {
  int bias = (1 << (ebits - 1)) - 1;
  return kind == VNNC_FMT_IEEE ? bias : bias + 1;
}

/* Largest integer significand N of binade emax (max = N * 2^(emax - m)): 2^(m+1) - 1, or
 * 2^(m+1) - 2 for FN, whose all-ones fraction is NaN. */
static inline double vnnc_fmt_top(int mbits, int kind) {
  return ldexp(1.0, mbits + 1) - (kind == VNNC_FMT_IEEE ? 1.0 : 2.0);
}

/* Largest finite value of the format. */
static inline double vnnc_fmt_max(int ebits, int mbits, int kind) {
  return ldexp(vnnc_fmt_top(mbits, kind), vnnc_fmt_emax(ebits, kind) - mbits);
}

static inline double vnnc_round(double x, int ebits, int mbits, int kind, int mode) {
  if (isnan(x) || x == 0.0) return x;
  double a = fabs(x);
  int neg = signbit(x) != 0;
  /* does `mode` round the magnitude of x away from zero? (RN decides per value) */
  int away = (mode == VNNC_RU && !neg) || (mode == VNNC_RD && neg);
  int emax = vnnc_fmt_emax(ebits, kind), emin = 2 - (1 << (ebits - 1));
  if (isinf(a)) {
    if (kind == VNNC_FMT_IEEE) return x;
    if (kind == VNNC_FMT_FN) return NAN;
  } else {
    int e = ilogb(a); /* 2^e <= a < 2^(e+1), subnormal doubles included */
    if (e <= emax) {
      /* The binade's quantum is 2^q (below 2^emin the subnormals' 2^(emin-m)). y = a / 2^q
       * is exact: scaled down it stays >= 2^m, scaled up it stays < 2^(m+1). */
      int q = (e > emin ? e : emin) - mbits;
      double y = ldexp(a, -q), n = floor(y), frac = y - n;
      if (mode == VNNC_RN) {
        if (frac > 0.5 || (frac == 0.5 && fmod(n, 2.0) != 0.0)) n += 1.0;
      } else if (away && frac != 0.0) {
        n += 1.0;
      }
      /* n * 2^q <= 2^(e+1) <= max below binade emax; n may carry to 2^(m+1) there */
      if (e < emax || n <= vnnc_fmt_top(mbits, kind)) return copysign(ldexp(n, q), x);
    }
    away = away || mode == VNNC_RN;
  }
  /* overflow (or an infinite x in an FN format) */
  if (kind == VNNC_FMT_FN_SAT || !away) return copysign(vnnc_fmt_max(ebits, mbits, kind), x);
  return kind == VNNC_FMT_IEEE ? copysign(INFINITY, x) : NAN;
}

/* Round to float32 in `mode`; the conversion of the (float32) result to float is exact. */
static inline float vnnc_round_f32(double x, int mode) {
  return (float)vnnc_round(x, 8, 23, VNNC_FMT_IEEE, mode);
}

#endif /* VNNC_FP_H */
