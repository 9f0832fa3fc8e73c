// Row-wise merge of two sorted CSR matrices.
#include "csr.hpp"

namespace fp {

int64_t merge_rows(const CsrView& a, const CsrView& b, int64_t* indptr, int32_t* indices, float* values) {
    int64_t k = 0;
    indptr[0] = 0;
    for (int64_t r = 0; r < a.n_users; ++r) {
        int64_t x = a.indptr[r], y = b.indptr[r];
        const int64_t xe = a.indptr[r + 1], ye = b.indptr[r + 1];
        while (x < xe || y < ye) {
            if (y == ye || (x < xe && a.indices[x] < b.indices[y])) {
                indices[k] = a.indices[x];
                values[k++] = a.values[x++];
            } else if (x == xe || b.indices[y] < a.indices[x]) {
                indices[k] = b.indices[y];
                values[k++] = b.values[y++];
            } else {
                return r;
            }
        }
        indptr[r + 1] = k;
    }
    return -1;
}

}  // namespace fp
