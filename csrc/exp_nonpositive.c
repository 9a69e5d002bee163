/* The vectorisable exponential of exp_nonpositive.h over an array, so that its
 * accuracy can be checked from Python against libm over the whole range. */
#include "fasthpo_native.h"

#include "exp_nonpositive.h"
#include "simd_clones.h"

FH_SIMD_CLONES
void fh_exp_nonpositive_array(const double *x, ptrdiff_t n, double *out)
{
    for (ptrdiff_t i = 0; i < n; ++i) {
        out[i] = fh_exp_nonpositive(x[i]);
    }
}
