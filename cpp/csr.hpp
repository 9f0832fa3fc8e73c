// Row-wise merge of two CSR matrices with disjoint supports (TCD: ratings plus pseudo-labels).
#pragma once

#include <cstdint>

namespace fp {

struct CsrRows {
    const int64_t* indptr;
    const int32_t* indices;
    const float* values;
};

// Writes the union of a and b (both n_rows rows, column ids ascending within each row) into
// `indptr` (n_rows + 1, from 0), `indices` and `values` (a's nnz + b's nnz), rows ascending.
// Returns the first row holding a column in both, or -1.
int64_t merge_rows(const CsrRows& a, const CsrRows& b, int64_t n_rows, int64_t* indptr, int32_t* indices,
                   float* values);

}  // namespace fp
