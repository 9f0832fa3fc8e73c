// Row-wise merge of two CSR matrices with disjoint supports (TCD: ratings plus pseudo-labels).
#pragma once

#include <cstdint>

#include "factor_models.hpp"

namespace fp {

// Writes the union of a and b (same number of rows, column ids ascending within each row)
// into `indptr` (rows + 1, from 0), `indices` and `values` (a's nnz + b's nnz), rows
// ascending. Returns the first row holding a column in both, or -1.
int64_t merge_rows(const CsrView& a, const CsrView& b, int64_t* indptr, int32_t* indices, float* values);

}  // namespace fp
