// Python bindings: every buffer is checked (dtype, C order, shape, writability, index range)
// here, before the GIL is released; invalid input raises ValueError, never crashes.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "agreement.hpp"
#include "bpr.hpp"
#include "csr.hpp"
#include "factor_models.hpp"
#include "lightgcn.hpp"
#include "objective.hpp"
#include "rvd.hpp"
#include "topk.hpp"

namespace py = pybind11;

namespace {

template <class T>
const char* type_name();
template <>
const char* type_name<float>() { return "float32"; }
template <>
const char* type_name<int32_t>() { return "int32"; }
template <>
const char* type_name<int64_t>() { return "int64"; }

// Check `a` is a C-contiguous T array with `ndim` dims; shape entries >= 0 must match.
template <class T>
T* checked(const py::array& a, const char* name, std::initializer_list<int64_t> shape, bool writable) {
    if (!a.dtype().is(py::dtype::of<T>()))
        throw py::value_error(std::string(name) + " must have dtype " + type_name<T>());
    if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + " must be C-contiguous");
    if (a.ndim() != static_cast<py::ssize_t>(shape.size()))
        throw py::value_error(std::string(name) + " must be " + std::to_string(shape.size()) + "-dimensional");
    int axis = 0;
    for (int64_t want : shape) {
        if (want >= 0 && a.shape(axis) != want)
            throw py::value_error(std::string(name) + " has shape[" + std::to_string(axis) + "] = " +
                                  std::to_string(a.shape(axis)) + ", expected " + std::to_string(want));
        ++axis;
    }
    if (writable && !a.writeable()) throw py::value_error(std::string(name) + " must be writable");
    return static_cast<T*>(const_cast<void*>(a.data()));
}

template <class T>
void check_range(const T* ids, int64_t n, int64_t limit, const char* name) {
    // One pass without an exit, in T's width, which vectorises (negative ids wrap to large
    // unsigned ones); the culprit is found after.
    using U = std::make_unsigned_t<T>;
    int64_t cap = limit;  // every id of T at or above cap is out of range
    if constexpr (sizeof(T) < sizeof(int64_t))
        cap = std::min<int64_t>(limit, static_cast<int64_t>(std::numeric_limits<T>::max()) + 1);
    const U bound = static_cast<U>(std::max<int64_t>(cap, 0));
    U outside = 0;
#pragma omp simd reduction(| : outside)
    for (int64_t k = 0; k < n; ++k) outside |= static_cast<U>(static_cast<U>(ids[k]) >= bound);
    if (outside == 0) return;
    for (int64_t k = 0; k < n; ++k)
        if (ids[k] < 0 || ids[k] >= limit)
            throw py::value_error(std::string(name) + "[" + std::to_string(k) + "] = " + std::to_string(ids[k]) +
                                  " is outside [0, " + std::to_string(limit) + ")");
}

// Factor matrices A (rows_a x d) and B (n_items x d) plus biases, as the kernels see them.
struct Factors {
    float *A, *B, *bu, *bi;
    int64_t rows_a, n_items;
    int d;
};

Factors checked_factors(const py::array& A, const py::array& B, const py::array& bu, const py::array& bi,
                        const char* a_name, int64_t n_users, bool bias) {
    if (A.ndim() != 2 || B.ndim() != 2) throw py::value_error("factor matrices must be 2-dimensional");
    Factors f{};
    f.rows_a = A.shape(0);
    f.n_items = B.shape(0);
    f.d = static_cast<int>(A.shape(1));
    if (f.d < 1) throw py::value_error("factor dimension must be at least 1");
    f.A = checked<float>(A, a_name, {-1, f.d}, true);
    f.B = checked<float>(B, "Q", {-1, f.d}, true);
    f.bu = checked<float>(bu, "bu", {bias ? n_users : -1}, true);
    f.bi = checked<float>(bi, "bi", {bias ? f.n_items : -1}, true);
    return f;
}

fp::RatingsView checked_coo(const py::array& users, const py::array& items, const py::array& ratings,
                            int64_t n_users, int64_t n_items) {
    const int64_t n = users.ndim() == 1 ? users.shape(0) : -1;
    fp::RatingsView r{checked<int32_t>(users, "users", {-1}, false), checked<int32_t>(items, "items", {n}, false),
                      checked<float>(ratings, "ratings", {n}, false), n};
    check_range(r.users, n, n_users, "users");
    check_range(r.items, n, n_items, "items");
    return r;
}

// A user-major CSR checked for shape and order; its indices are checked to lie in
// [0, n_items) unless `all_indices` is false (a kernel that reads only some rows checks those,
// `check_rows`).
fp::CsrView checked_csr(const py::array& indptr, const py::array& indices, const py::array* values,
                        int64_t n_items, bool all_indices = true) {
    if (indptr.ndim() != 1 || indptr.shape(0) < 1) throw py::value_error("indptr must be 1-d and non-empty");
    fp::CsrView c{checked<int64_t>(indptr, "indptr", {-1}, false), nullptr, nullptr, indptr.shape(0) - 1};
    const int64_t nnz = indices.ndim() == 1 ? indices.shape(0) : -1;
    c.indices = checked<int32_t>(indices, "indices", {-1}, false);
    if (values != nullptr) c.values = checked<float>(*values, "values", {nnz}, false);
    if (c.indptr[0] != 0 || c.indptr[c.n_users] != nnz) throw py::value_error("indptr must run from 0 to nnz");
    for (int64_t u = 0; u < c.n_users; ++u)
        if (c.indptr[u + 1] < c.indptr[u]) throw py::value_error("indptr must be non-decreasing");
    if (all_indices) check_range(c.indices, nnz, n_items, "indices");
    return c;
}

// The indices of CSR rows rows[0..n) (valid row ids) lie in [0, n_items).
void check_rows(const fp::CsrView& c, const int32_t* rows, int64_t n, int64_t n_items) {
    for (int64_t k = 0; k < n; ++k) {
        const int64_t a = c.indptr[rows[k]];
        check_range(c.indices + a, c.indptr[rows[k] + 1] - a, n_items,
                    "indices (of a served user's or neighbour's row)");
    }
}

fp::Moments checked_moments(const py::tuple& m, const fp::FactorParams& p) {
    if (m.size() != 8) throw py::value_error("moments must be a tuple of 8 arrays");
    auto get = [&](int k, const char* name, std::initializer_list<int64_t> shape) {
        return checked<float>(m[k].cast<py::array>(), name, shape, true);
    };
    const int64_t n_bu = p.bias ? p.n_users : -1, n_bi = p.bias ? p.n_items : -1;
    return fp::Moments{get(0, "m_A", {p.a_rows, p.d}), get(1, "v_A", {p.a_rows, p.d}),
                       get(2, "m_Q", {p.n_items, p.d}), get(3, "v_Q", {p.n_items, p.d}),
                       get(4, "m_bu", {n_bu}), get(5, "v_bu", {n_bu}), get(6, "m_bi", {n_bi}), get(7, "v_bi", {n_bi})};
}

void check_hyper(float lr, float reg) {
    if (!(lr > 0.0f) || !(reg >= 0.0f)) throw py::value_error("lr must be > 0 and reg >= 0");
}

fp::AdamConfig adam_config(float lr, float beta1, float beta2, float eps, float reg, int64_t batch) {
    check_hyper(lr, reg);
    if (!(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f && eps > 0.0f))
        throw py::value_error("Adam needs 0 <= beta1, beta2 < 1 and eps > 0");
    if (batch < 1) throw py::value_error("batch size must be >= 1");
    return fp::AdamConfig{lr, beta1, beta2, eps};
}

fp::FactorParams factor_params(const Factors& f, float mu, int64_t n_users, bool bias, float item_reg) {
    return fp::FactorParams{f.A, f.B, f.bu, f.bi, mu, f.rows_a, n_users, f.n_items, f.d, bias, item_reg};
}

struct MFInput {
    fp::FactorParams p;
    fp::RatingsView r;
};

// Factors with user-major CSR ratings (NSVD's training input, and RVD's).
struct CsrInput {
    fp::FactorParams p;
    fp::CsrView c;
};

// MF's factors and its COO ratings, checked against each other.
MFInput checked_mf(py::array P, py::array Q, py::array bu, py::array bi,
                   float mu, py::array users, py::array items, py::array ratings, bool bias) {
    Factors f = checked_factors(P, Q, bu, bi, "P", P.ndim() == 2 ? P.shape(0) : -1, bias);
    fp::RatingsView r = checked_coo(users, items, ratings, f.rows_a, f.n_items);
    return {factor_params(f, mu, f.rows_a, bias, 0.0f), r};
}

// MF's factors and user-major CSR ratings (one row of P per CSR row), checked against each
// other; the indices only of the rows a kernel reads are checked, by its caller (`check_rows`).
CsrInput checked_mf_csr(py::array P, py::array Q, py::array bu, py::array bi, float mu, py::array indptr,
                        py::array indices, py::array values, bool bias) {
    const int64_t n_users = indptr.ndim() == 1 ? indptr.shape(0) - 1 : -1;
    Factors f = checked_factors(P, Q, bu, bi, "P", n_users, bias);
    if (f.rows_a != n_users) throw py::value_error("P must have one row per user of the ratings");
    fp::CsrView c = checked_csr(indptr, indices, &values, f.n_items, false);
    return {factor_params(f, mu, c.n_users, bias, 0.0f), c};
}

// NSVD's factors and its user-major CSR ratings, checked against each other.
CsrInput checked_nsvd(py::array Y, py::array Q, py::array bu, py::array bi,
                      float mu, py::array indptr, py::array indices, py::array values, bool bias,
                      float item_reg) {
    const int64_t n_users = indptr.ndim() == 1 ? indptr.shape(0) - 1 : -1;
    Factors f = checked_factors(Y, Q, bu, bi, "Y", n_users, bias);
    if (f.rows_a != f.n_items) throw py::value_error("Y and Q must both have one row per item");
    fp::CsrView c = checked_csr(indptr, indices, &values, f.n_items);
    if (!(item_reg >= 0.0f)) throw py::value_error("item_reg must be >= 0");
    return {factor_params(f, mu, c.n_users, bias, item_reg), c};
}

// Runs `epoch(step)` without the GIL; returns (SSE, step after the epoch).
template <class Epoch>
py::tuple adam_run(Epoch&& epoch, int64_t step) {
    double loss;
    {
        py::gil_scoped_release nogil;
        loss = epoch(step);
    }
    return py::make_tuple(loss, step);
}

fp::Objective objective(float huber, int perturbation, float perturbation_size, float perturbation_weight,
                        bool frobenius = false) {
    if (!(huber > 0.0f)) throw py::value_error("huber must be > 0 (infinity: squared error)");
    if (frobenius && (std::isfinite(huber) || perturbation != 0))
        throw py::value_error("the Frobenius loss combines with neither huber nor a perturbation");
    if (perturbation < 0 || perturbation > 3)
        throw py::value_error("perturbation must be 0 (none), 1 (adversarial), 2 (random) or 3 (adversarial rows)");
    if (!(perturbation_size >= 0.0f) || !std::isfinite(perturbation_size) || !(perturbation_weight >= 0.0f) ||
        !std::isfinite(perturbation_weight))
        throw py::value_error("perturbation_size and perturbation_weight must be finite and >= 0");
    return fp::Objective{huber, static_cast<fp::Perturbation>(perturbation), perturbation_size, perturbation_weight,
                         frobenius};
}

double mf_sgd(py::array P, py::array Q, py::array bu, py::array bi, float mu, py::array users, py::array items,
              py::array ratings, float lr, float reg, bool bias, int n_threads, uint64_t seed, float huber,
              int perturbation, float perturbation_size, float perturbation_weight) {
    const MFInput in = checked_mf(P, Q, bu, bi, mu, users, items, ratings, bias);
    check_hyper(lr, reg);
    const fp::Objective o = objective(huber, perturbation, perturbation_size, perturbation_weight);
    if (o.perturbation == fp::Perturbation::adversarial_rows)
        throw py::value_error("adversarial row perturbations are set per mini-batch: train with Adam");
    py::gil_scoped_release nogil;
    return fp::mf_sgd_epoch(in.p, o, in.r, lr, reg, n_threads, seed);
}

py::tuple mf_adam(py::array P, py::array Q, py::array bu, py::array bi, float mu, py::tuple moments,
                  py::array users, py::array items, py::array ratings, int64_t batch, float reg, float lr,
                  float beta1, float beta2, float eps, int64_t step, bool bias, int n_threads, uint64_t seed,
                  float huber, int perturbation, float perturbation_size, float perturbation_weight, bool frobenius) {
    const MFInput in = checked_mf(P, Q, bu, bi, mu, users, items, ratings, bias);
    const fp::Moments mo = checked_moments(moments, in.p);
    const fp::AdamConfig cfg = adam_config(lr, beta1, beta2, eps, reg, batch);
    const fp::Objective o = objective(huber, perturbation, perturbation_size, perturbation_weight, frobenius);
    return adam_run(
        [&](int64_t& t) { return fp::mf_adam_epoch(in.p, o, mo, in.r, batch, reg, cfg, t, n_threads, seed); }, step);
}

double nsvd_sgd(py::array Y, py::array Q, py::array bu, py::array bi, float mu, py::array indptr, py::array indices,
                py::array values, float lr, float reg, bool bias, int n_threads, uint64_t seed, float item_reg) {
    const CsrInput in = checked_nsvd(Y, Q, bu, bi, mu, indptr, indices, values, bias, item_reg);
    check_hyper(lr, reg);
    py::gil_scoped_release nogil;
    return fp::nsvd_sgd_epoch(in.p, in.c, lr, reg, n_threads, seed);
}

py::tuple nsvd_adam(py::array Y, py::array Q, py::array bu, py::array bi, float mu, py::tuple moments,
                    py::array indptr, py::array indices, py::array values, int64_t batch, float reg, float lr,
                    float beta1, float beta2, float eps, int64_t step, bool bias, int n_threads, uint64_t seed,
                    float item_reg) {
    const CsrInput in = checked_nsvd(Y, Q, bu, bi, mu, indptr, indices, values, bias, item_reg);
    const fp::Moments mo = checked_moments(moments, in.p);
    const fp::AdamConfig cfg = adam_config(lr, beta1, beta2, eps, reg, batch);
    return adam_run([&](int64_t& t) { return fp::nsvd_adam_epoch(in.p, mo, in.c, batch, reg, cfg, t, n_threads, seed); },
                    step);
}

// BPR-MF's factors P [n_users, d], Q [n_items, d] and the moments of both, checked.
struct BprFactors {
    float *P, *Q, *mP, *vP, *mQ, *vQ;
    int64_t n_users, n_items;
    int d;
};

BprFactors checked_bpr_factors(const py::array& P, const py::array& Q, const py::tuple* moments) {
    if (P.ndim() != 2 || Q.ndim() != 2 || P.shape(1) != Q.shape(1) || P.shape(1) < 1)
        throw py::value_error("P and Q must be 2-d with the same number (>= 1) of columns");
    BprFactors f{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, P.shape(0), Q.shape(0),
                 static_cast<int>(P.shape(1))};
    f.P = checked<float>(P, "P", {-1, f.d}, true);
    f.Q = checked<float>(Q, "Q", {-1, f.d}, true);
    if (moments != nullptr) {
        if (moments->size() != 4) throw py::value_error("moments must be a tuple of 4 arrays (m_P, v_P, m_Q, v_Q)");
        auto get = [&](int k, const char* name, int64_t rows) {
            return checked<float>((*moments)[k].cast<py::array>(), name, {rows, f.d}, true);
        };
        f.mP = get(0, "m_P", f.n_users);
        f.vP = get(1, "v_P", f.n_users);
        f.mQ = get(2, "m_Q", f.n_items);
        f.vQ = get(3, "v_Q", f.n_items);
    }
    return f;
}

// An epoch's interactions (users, items) and each user's seen items (strictly ascending rows),
// checked against the factors.
fp::Interactions checked_interactions(const BprFactors& f, const py::array& users, const py::array& items,
                                      const py::array& seen_indptr, const py::array& seen_indices) {
    const int64_t n = users.ndim() == 1 ? users.shape(0) : -1;
    fp::Interactions x{checked<int32_t>(users, "users", {-1}, false), checked<int32_t>(items, "items", {n}, false), n,
                       checked_csr(seen_indptr, seen_indices, nullptr, f.n_items)};
    if (x.seen.n_users != f.n_users) throw py::value_error("seen must have one row per row of P");
    check_range(x.users, n, f.n_users, "users");
    check_range(x.items, n, f.n_items, "items");
    for (int64_t u = 0; u < x.seen.n_users; ++u)
        for (int64_t k = x.seen.indptr[u] + 1; k < x.seen.indptr[u + 1]; ++k)
            if (x.seen.indices[k] <= x.seen.indices[k - 1])
                throw py::value_error("seen indices must be strictly ascending within each row");
    return x;
}

py::tuple bpr_adam(py::array P, py::array Q, py::tuple moments, py::array users, py::array items,
                   py::array seen_indptr, py::array seen_indices, int64_t batch, float reg, float lr, float beta1,
                   float beta2, float eps, int64_t step, int n_threads, uint64_t seed) {
    const BprFactors f = checked_bpr_factors(P, Q, &moments);
    const fp::Interactions x = checked_interactions(f, users, items, seen_indptr, seen_indices);
    const fp::AdamConfig cfg = adam_config(lr, beta1, beta2, eps, reg, batch);
    return adam_run([&](int64_t& t) {
        return fp::bpr_adam_epoch(f.P, f.Q, f.n_users, f.n_items, f.d, f.mP, f.vP, f.mQ, f.vQ, x, batch, reg, cfg, t,
                                  n_threads, seed);
    }, step);
}

// Triples (users, pos, neg) of equal length, checked against the factors.
fp::Triples checked_triples(const BprFactors& f, const py::array& users, const py::array& pos, const py::array& neg) {
    const int64_t n = users.ndim() == 1 ? users.shape(0) : -1;
    const fp::Triples t{checked<int32_t>(users, "users", {-1}, false), checked<int32_t>(pos, "pos", {n}, false),
                        checked<int32_t>(neg, "neg", {n}, false), n};
    check_range(t.users, n, f.n_users, "users");
    check_range(t.pos, n, f.n_items, "pos");
    check_range(t.neg, n, f.n_items, "neg");
    return t;
}

py::tuple bpr_grad(py::array P, py::array Q, py::array users, py::array pos, py::array neg, float reg) {
    const BprFactors f = checked_bpr_factors(P, Q, nullptr);
    const fp::Triples t = checked_triples(f, users, pos, neg);
    py::array_t<float> dP({f.n_users, static_cast<int64_t>(f.d)}), dQ({f.n_items, static_cast<int64_t>(f.d)});
    const double loss = fp::bpr_loss_grad(f.P, f.Q, f.n_users, f.n_items, f.d, t.users, t.pos, t.neg, t.n, reg,
                                          dP.mutable_data(), dQ.mutable_data());
    return py::make_tuple(loss, dP, dQ);
}

void check_layers(int layers) {
    if (layers < 0) throw py::value_error("layers must be >= 0");
}

// The graph of the edges (edge_users[k], edge_items[k]), checked against the factors.
fp::BipartiteGraph checked_graph(const BprFactors& f, const py::array& edge_users, const py::array& edge_items) {
    const int64_t n = edge_users.ndim() == 1 ? edge_users.shape(0) : -1;
    const int32_t* u = checked<int32_t>(edge_users, "edge_users", {-1}, false);
    const int32_t* i = checked<int32_t>(edge_items, "edge_items", {n}, false);
    check_range(u, n, f.n_users, "edge_users");
    check_range(i, n, f.n_items, "edge_items");
    py::gil_scoped_release nogil;
    return fp::BipartiteGraph(u, i, n, f.n_users, f.n_items);
}

py::tuple lightgcn_propagate(py::array P, py::array Q, py::array edge_users, py::array edge_items, int layers,
                             int n_threads) {
    const BprFactors f = checked_bpr_factors(P, Q, nullptr);
    check_layers(layers);
    const fp::BipartiteGraph g = checked_graph(f, edge_users, edge_items);
    py::array_t<float> U({f.n_users, static_cast<int64_t>(f.d)}), I({f.n_items, static_cast<int64_t>(f.d)});
    float* u = U.mutable_data();
    float* i = I.mutable_data();
    {
        py::gil_scoped_release nogil;
        fp::Propagation(g, f.d, layers, fp::clamp_threads(n_threads)).mean(f.P, f.Q, u, i);
    }
    return py::make_tuple(U, I);
}

py::tuple lightgcn_grad(py::array P, py::array Q, py::array edge_users, py::array edge_items, py::array users,
                        py::array pos, py::array neg, int layers, float reg) {
    const BprFactors f = checked_bpr_factors(P, Q, nullptr);
    check_layers(layers);
    const fp::Triples t = checked_triples(f, users, pos, neg);
    const fp::BipartiteGraph g = checked_graph(f, edge_users, edge_items);
    py::array_t<float> dP({f.n_users, static_cast<int64_t>(f.d)}), dQ({f.n_items, static_cast<int64_t>(f.d)});
    const fp::Embeddings grad{dP.mutable_data(), dQ.mutable_data()};
    double loss;
    {
        py::gil_scoped_release nogil;
        loss = fp::lightgcn_loss_grad(g, f.d, layers, fp::Embeddings{f.P, f.Q}, t, reg, grad);
    }
    return py::make_tuple(loss, dP, dQ);
}

py::tuple lightgcn_adam(py::array P, py::array Q, py::tuple moments, py::array users, py::array items,
                        py::array edge_users, py::array edge_items, py::array seen_indptr, py::array seen_indices,
                        int layers, int64_t batch, float reg, float lr, float beta1, float beta2, float eps,
                        int64_t step, int n_threads, uint64_t seed) {
    const BprFactors f = checked_bpr_factors(P, Q, &moments);
    check_layers(layers);
    const fp::Interactions x = checked_interactions(f, users, items, seen_indptr, seen_indices);
    const fp::BipartiteGraph graph = checked_graph(f, edge_users, edge_items);
    const fp::AdamConfig cfg = adam_config(lr, beta1, beta2, eps, reg, batch);
    return adam_run([&](int64_t& t) {
        return fp::lightgcn_adam_epoch(graph, fp::Embeddings{f.P, f.Q}, fp::Embeddings{f.mP, f.mQ},
                                       fp::Embeddings{f.vP, f.vQ}, f.d, layers, x, batch, reg, cfg, t, n_threads, seed);
    }, step);
}

// RVD's queries and settings, checked against the ratings `c`.
fp::RvdQueries checked_queries(const py::array& users, const py::array& neighbours, const fp::CsrView& c) {
    if (neighbours.ndim() != 2 || users.ndim() != 1 || neighbours.shape(0) != users.shape(0))
        throw py::value_error("neighbours must be [n, k] with one row per user");
    const int64_t n = users.shape(0);
    const int k = static_cast<int>(neighbours.shape(1));
    if (k < 1) throw py::value_error("k must be >= 1");
    fp::RvdQueries q{checked<int32_t>(users, "users", {n}, false),
                     checked<int32_t>(neighbours, "neighbours", {n, k}, false), n, k};
    check_range(q.users, n, c.n_users, "users");
    check_range(q.neighbours, n * k, c.n_users, "neighbours");
    return q;
}

fp::RvdConfig rvd_config(int epochs, float lr, float forget, int top_k) {
    if (!(lr > 0.0f) || !(forget > 0.0f && forget <= 1.0f)) throw py::value_error("need lr > 0 and forget in (0, 1]");
    if (epochs < 0 || top_k < 1) throw py::value_error("epochs must be >= 0 and top_k >= 1");
    return fp::RvdConfig{epochs, lr, forget, top_k};
}

// Runs `kernel` (fp::mf_rvd_top_k or fp::nsvd_rvd_top_k) on checked input without the GIL;
// returns (items, scores) [n, top_k].
template <class Kernel>
py::tuple rvd_run(Kernel kernel, const CsrInput& in, py::array users, py::array neighbours, int epochs, float lr,
                  float forget, int top_k, int n_threads) {
    const fp::RvdQueries q = checked_queries(users, neighbours, in.c);
    check_rows(in.c, q.users, q.n, in.p.n_items);  // the only rows the fine-tune reads
    check_rows(in.c, q.neighbours, q.n * q.k, in.p.n_items);
    const fp::RvdConfig cfg = rvd_config(epochs, lr, forget, top_k);
    py::array_t<int32_t> items({q.n, static_cast<int64_t>(top_k)});
    py::array_t<float> scores({q.n, static_cast<int64_t>(top_k)});
    int32_t* oi = items.mutable_data();
    float* os = scores.mutable_data();
    {
        py::gil_scoped_release nogil;
        kernel(in.p, in.c, q, cfg, oi, os, fp::clamp_threads(n_threads));
    }
    return py::make_tuple(items, scores);
}

py::tuple mf_rvd(py::array P, py::array Q, py::array bu, py::array bi, float mu, bool bias, py::array indptr,
                 py::array indices, py::array values, py::array users, py::array neighbours, int epochs, float lr,
                 float forget, int top_k, int n_threads) {
    const CsrInput in = checked_mf_csr(P, Q, bu, bi, mu, indptr, indices, values, bias);
    return rvd_run(fp::mf_rvd_top_k, in, users, neighbours, epochs, lr, forget, top_k, n_threads);
}

py::tuple nsvd_rvd(py::array Y, py::array Q, py::array bu, py::array bi, float mu, bool bias, py::array indptr,
                   py::array indices, py::array values, py::array users, py::array neighbours, int epochs, float lr,
                   float forget, int top_k, int n_threads, float item_reg) {
    const CsrInput in = checked_nsvd(Y, Q, bu, bi, mu, indptr, indices, values, bias, item_reg);
    return rvd_run(fp::nsvd_rvd_top_k, in, users, neighbours, epochs, lr, forget, top_k, n_threads);
}

py::array_t<float> dot_pairs(py::array U, py::array V, py::array users, py::array items, int n_threads) {
    if (U.ndim() != 2 || V.ndim() != 2 || users.ndim() != 1) throw py::value_error("U, V must be 2-d and users 1-d");
    const int d = static_cast<int>(U.shape(1));
    const float* u = checked<float>(U, "U", {-1, d}, false);
    const float* v = checked<float>(V, "V", {-1, d}, false);
    const int64_t n = users.shape(0);
    const int32_t* us = checked<int32_t>(users, "users", {n}, false);
    const int32_t* is = checked<int32_t>(items, "items", {n}, false);
    check_range(us, n, U.shape(0), "users");
    check_range(is, n, V.shape(0), "items");
    py::array_t<float> out(n);
    float* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        fp::dot_pairs(u, v, d, us, is, n, o, n_threads);
    }
    return out;
}

py::tuple agreement_pairs(py::array scores_a, py::array scores_b, py::array users, py::array indptr,
                          py::array indices, float low, float step, int levels, float ratio, uint64_t seed,
                          int n_threads, const std::string& ends) {
    if (scores_a.ndim() != 2) throw py::value_error("scores must be 2-dimensional");
    const int64_t rows = scores_a.shape(0), m = scores_a.shape(1);
    const fp::CsrView c = checked_csr(indptr, indices, nullptr, m);
    const fp::ScorePair s{checked<float>(scores_a, "scores_a", {rows, m}, false),
                          checked<float>(scores_b, "scores_b", {rows, m}, false), rows, m,
                          checked<int32_t>(users, "users", {rows}, false), c.indptr, c.indices};
    check_range(s.users, rows, c.n_users, "users");
    if (!std::isfinite(low) || !(step > 0.0f) || !std::isfinite(step) || levels < 1 || levels > 256)
        throw py::value_error("the grid needs a finite low, step > 0 and 1 <= levels <= 256");
    if (!(ratio > 0.0f && ratio <= 1.0f)) throw py::value_error("ratio must lie in (0, 1]");
    const fp::Ends grid_ends = ends == "extend" ? fp::Ends::extend
                               : ends == "clamp" ? fp::Ends::clamp
                               : ends == "drop"  ? fp::Ends::drop
                                                 : throw py::value_error("ends must be extend, clamp or drop");
    const fp::AgreementRule rule{fp::Grid{low, step, levels, grid_ends}, ratio, seed};
    std::vector<fp::RowPairs> kept;
    {
        py::gil_scoped_release nogil;
        kept = fp::agreement_rows(s, rule, n_threads);
    }
    int64_t n = 0;
    for (const auto& row : kept) n += static_cast<int64_t>(row.items.size());
    py::array_t<int32_t> out_users(n), out_items(n);
    py::array_t<float> out_ratings(n);
    int32_t* ou = out_users.mutable_data();
    int32_t* oi = out_items.mutable_data();
    float* orr = out_ratings.mutable_data();
    {
        py::gil_scoped_release nogil;
        int64_t k = 0;
        for (size_t r = 0; r < kept.size(); ++r) {
            const auto& row = kept[r];
            for (size_t x = 0; x < row.items.size(); ++x, ++k) {
                ou[k] = s.users[r];
                oi[k] = row.items[x];
                orr[k] = low + step * static_cast<float>(row.levels[x]);
            }
        }
    }
    return py::make_tuple(out_users, out_items, out_ratings);
}

py::tuple sample_unrated_pairs(py::array indptr, py::array indices, int64_t n_items, double ratio, uint64_t seed,
                               int n_threads) {
    const fp::CsrView c = checked_csr(indptr, indices, nullptr, n_items);
    if (!(ratio > 0.0 && ratio <= 1.0)) throw py::value_error("ratio must lie in (0, 1]");
    std::vector<std::vector<int32_t>> rows;
    {
        py::gil_scoped_release nogil;
        rows = fp::sample_unrated(c.indptr, c.indices, c.n_users, n_items, ratio, seed, n_threads);
    }
    int64_t n = 0;
    for (const auto& row : rows) n += static_cast<int64_t>(row.size());
    py::array_t<int32_t> out_users(n), out_items(n);
    int32_t* ou = out_users.mutable_data();
    int32_t* oi = out_items.mutable_data();
    {
        py::gil_scoped_release nogil;
        for (size_t u = 0; u < rows.size(); ++u) {
            std::fill(ou, ou + rows[u].size(), static_cast<int32_t>(u));
            oi = std::copy(rows[u].begin(), rows[u].end(), oi);
            ou += rows[u].size();
        }
    }
    return py::make_tuple(out_users, out_items);
}

py::tuple merge_csr(py::array indptr_a, py::array indices_a, py::array values_a, py::array indptr_b,
                    py::array indices_b, py::array values_b, int64_t n_cols) {
    const fp::CsrView a = checked_csr(indptr_a, indices_a, &values_a, n_cols);
    const fp::CsrView b = checked_csr(indptr_b, indices_b, &values_b, n_cols);
    if (a.n_users != b.n_users) throw py::value_error("both matrices must have the same number of rows");
    for (const fp::CsrView* m : {&a, &b})
        for (int64_t r = 0; r < m->n_users; ++r)
            for (int64_t x = m->indptr[r] + 1; x < m->indptr[r + 1]; ++x)
                if (m->indices[x] <= m->indices[x - 1]) throw py::value_error("rows must hold ascending column ids");
    const int64_t nnz = a.indptr[a.n_users] + b.indptr[b.n_users];
    py::array_t<int64_t> indptr(a.n_users + 1);
    py::array_t<int32_t> indices(nnz);
    py::array_t<float> values(nnz);
    int64_t clash;
    {
        int64_t* ip = indptr.mutable_data();
        int32_t* ix = indices.mutable_data();
        float* vx = values.mutable_data();
        py::gil_scoped_release nogil;
        clash = fp::merge_rows(a, b, ip, ix, vx);
    }
    if (clash >= 0) throw py::value_error("row " + std::to_string(clash) + " holds a column in both matrices");
    return py::make_tuple(indptr, indices, values);
}

void mask_seen(py::array scores, py::array users, py::array indptr, py::array indices, int n_threads) {
    if (scores.ndim() != 2) throw py::value_error("scores must be 2-dimensional");
    const int64_t rows = scores.shape(0), m = scores.shape(1);
    float* s = checked<float>(scores, "scores", {rows, m}, true);
    const int32_t* u = checked<int32_t>(users, "users", {rows}, false);
    fp::CsrView c = checked_csr(indptr, indices, nullptr, m);
    for (int64_t r = 0; r < rows; ++r)
        if (u[r] >= c.n_users) throw py::value_error("users must be < the seen matrix's row count");
    py::gil_scoped_release nogil;
    fp::mask_seen(s, rows, m, u, c.indptr, c.indices, fp::clamp_threads(n_threads));
}

py::tuple topk_rows(py::array scores, int k, int n_threads) {
    if (scores.ndim() != 2) throw py::value_error("scores must be 2-dimensional");
    if (k < 1) throw py::value_error("k must be >= 1");
    const int64_t rows = scores.shape(0), m = scores.shape(1);
    const float* s = checked<float>(scores, "scores", {rows, m}, false);
    py::array_t<int32_t> items({rows, static_cast<int64_t>(k)});
    py::array_t<float> top({rows, static_cast<int64_t>(k)});
    int32_t* oi = items.mutable_data();
    float* os = top.mutable_data();
    {
        py::gil_scoped_release nogil;
        fp::topk_rows(s, rows, m, k, oi, os, fp::clamp_threads(n_threads));
    }
    return py::make_tuple(items, top);
}

py::array_t<int32_t> rank_items(py::array scores, py::array query, int n_threads) {
    if (scores.ndim() != 2 || query.ndim() != 2) throw py::value_error("scores and query must be 2-dimensional");
    const int64_t rows = scores.shape(0), m = scores.shape(1), t = query.shape(1);
    const float* s = checked<float>(scores, "scores", {rows, m}, false);
    const int32_t* q = checked<int32_t>(query, "query", {rows, t}, false);
    check_range(q, rows * t, m, "query");
    py::array_t<int32_t> ranks({rows, t});
    int32_t* out = ranks.mutable_data();
    {
        py::gil_scoped_release nogil;
        fp::rank_items(s, rows, m, q, static_cast<int>(t), out, fp::clamp_threads(n_threads));
    }
    return ranks;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "fastpoison compiled kernels (float32 parameters, int32 ids, GIL released)";
    m.def("openmp_enabled", [] {
#ifdef FASTPOISON_OPENMP
        return true;
#else
        return false;
#endif
    });
    m.def("max_threads", [] { return fp::clamp_threads(0); });
    constexpr float inf = std::numeric_limits<float>::infinity();
    m.def("mf_sgd_epoch", &mf_sgd,
          "One SGD epoch of MF over shuffled rating blocks; returns the SSE. huber, perturbation "
          "(0 none, 1 adversarial, 2 random; 3 adversarial rows is Adam's), perturbation_size / _weight: the robust "
          "objective of fp::Objective.",
          py::arg("P"), py::arg("Q"), py::arg("bu"), py::arg("bi"), py::arg("mu"), py::arg("users"),
          py::arg("items"), py::arg("ratings"), py::arg("lr"), py::arg("reg"), py::arg("bias"),
          py::arg("n_threads"), py::arg("seed"), py::arg("huber") = inf, py::arg("perturbation") = 0,
          py::arg("perturbation_size") = 0.0f, py::arg("perturbation_weight") = 0.0f);
    m.def("mf_adam_epoch", &mf_adam,
          "One lazy-Adam epoch of MF; returns (SSE, step). frobenius: each mini-batch's loss is the Frobenius "
          "norm of its residuals instead of their mean square.", py::arg("P"),
          py::arg("Q"), py::arg("bu"), py::arg("bi"), py::arg("mu"), py::arg("moments"), py::arg("users"),
          py::arg("items"), py::arg("ratings"), py::arg("batch"), py::arg("reg"), py::arg("lr"), py::arg("beta1"),
          py::arg("beta2"), py::arg("eps"), py::arg("step"), py::arg("bias"), py::arg("n_threads"),
          py::arg("seed"), py::arg("huber") = inf, py::arg("perturbation") = 0,
          py::arg("perturbation_size") = 0.0f, py::arg("perturbation_weight") = 0.0f, py::arg("frobenius") = false);
    m.def("bpr_adam_epoch", &bpr_adam,
          "One lazy-Adam epoch of BPR-MF over the interactions (users, items), one uniform negative per positive "
          "among the items not in the user's row of seen; returns (summed -log sigmoid of the margins, step).",
          py::arg("P"), py::arg("Q"), py::arg("moments"), py::arg("users"), py::arg("items"), py::arg("seen_indptr"),
          py::arg("seen_indices"), py::arg("batch"), py::arg("reg"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"),
          py::arg("eps"), py::arg("step"), py::arg("n_threads"), py::arg("seed"));
    m.def("bpr_loss_grad", &bpr_grad,
          "BPR-MF's mean loss (with reg/2 of the triples' squared rows) and its gradients (dP, dQ) over the triples "
          "(users, pos, neg): the reference of the epoch's arithmetic.",
          py::arg("P"), py::arg("Q"), py::arg("users"), py::arg("pos"), py::arg("neg"), py::arg("reg"));
    m.def("lightgcn_propagate", &lightgcn_propagate,
          "LightGCN's final embeddings (U, I): the mean over layers 0..layers of A_hat^l [P; Q], A_hat the "
          "symmetrically normalised graph of the edges (edge_users, edge_items).",
          py::arg("P"), py::arg("Q"), py::arg("edge_users"), py::arg("edge_items"), py::arg("layers"),
          py::arg("n_threads") = 1);
    m.def("lightgcn_loss_grad", &lightgcn_grad,
          "LightGCN's mean BPR loss of the triples (users, pos, neg) on the propagated embeddings, plus reg/2 of the "
          "triples' squared ego rows averaged, and its gradients (dP, dQ) w.r.t. the ego embeddings P, Q.",
          py::arg("P"), py::arg("Q"), py::arg("edge_users"), py::arg("edge_items"), py::arg("users"), py::arg("pos"),
          py::arg("neg"), py::arg("layers"), py::arg("reg"));
    m.def("lightgcn_adam_epoch", &lightgcn_adam,
          "One epoch of LightGCN on the graph of the edges (edge_users, edge_items): BPR over the positives (users, "
          "items) with one uniform negative per positive among the items not in the user's row of seen, full "
          "propagation per mini-batch, dense Adam on the ego embeddings; returns (summed -log sigmoid of the "
          "margins, step).",
          py::arg("P"), py::arg("Q"), py::arg("moments"), py::arg("users"), py::arg("items"), py::arg("edge_users"),
          py::arg("edge_items"), py::arg("seen_indptr"),
          py::arg("seen_indices"), py::arg("layers"), py::arg("batch"), py::arg("reg"), py::arg("lr"),
          py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("step"), py::arg("n_threads"), py::arg("seed"));
    m.def("nsvd_sgd_epoch", &nsvd_sgd, "One SGD epoch of NSVD, user by user; returns the SSE.", py::arg("Y"),
          py::arg("Q"), py::arg("bu"), py::arg("bi"), py::arg("mu"), py::arg("indptr"), py::arg("indices"),
          py::arg("values"), py::arg("lr"), py::arg("reg"), py::arg("bias"), py::arg("n_threads"),
          py::arg("seed"), py::arg("item_reg") = 0.0f);
    m.def("nsvd_adam_epoch", &nsvd_adam, "One lazy-Adam epoch of NSVD over user batches; returns (SSE, step).",
          py::arg("Y"), py::arg("Q"), py::arg("bu"), py::arg("bi"), py::arg("mu"), py::arg("moments"),
          py::arg("indptr"), py::arg("indices"), py::arg("values"), py::arg("batch"), py::arg("reg"),
          py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("step"), py::arg("bias"),
          py::arg("n_threads"), py::arg("seed"), py::arg("item_reg") = 0.0f);
    m.def("mf_rvd_top_k", &mf_rvd,
          "RVD for MF: per user, fine-tune a copy-on-write overlay of the base model on its neighbours' ratings "
          "by SGD, score every item, mask rated ones; returns (items, scores) [n, top_k].",
          py::arg("P"), py::arg("Q"), py::arg("bu"), py::arg("bi"), py::arg("mu"), py::arg("bias"),
          py::arg("indptr"), py::arg("indices"), py::arg("values"), py::arg("users"), py::arg("neighbours"),
          py::arg("epochs"), py::arg("lr"), py::arg("forget"), py::arg("top_k"), py::arg("n_threads"));
    m.def("nsvd_rvd_top_k", &nsvd_rvd, "RVD for NSVD, as mf_rvd_top_k; item_reg: NSVD's per-item prior.",
          py::arg("Y"), py::arg("Q"), py::arg("bu"), py::arg("bi"), py::arg("mu"), py::arg("bias"),
          py::arg("indptr"), py::arg("indices"), py::arg("values"), py::arg("users"), py::arg("neighbours"),
          py::arg("epochs"), py::arg("lr"), py::arg("forget"), py::arg("top_k"), py::arg("n_threads"),
          py::arg("item_reg") = 0.0f);
    m.def("dot_pairs", &dot_pairs, "U[users[k]] . V[items[k]] for every k (float32).", py::arg("U"), py::arg("V"),
          py::arg("users"), py::arg("items"), py::arg("n_threads"));
    m.def("agreement_pairs", &agreement_pairs,
          "TCD pseudo-labels of a user block: unrated pairs whose two scores project to the same level of "
          "the grid low + step * k (k < levels), Bernoulli(ratio)-sampled per user stream; a score more than "
          "half a step outside the grid projects to the level it rounds to (ends='extend', the TCD code's), "
          "the nearest end's ('clamp') or none ('drop'); returns (users, items, ratings).",
          py::arg("scores_a"), py::arg("scores_b"), py::arg("users"), py::arg("indptr"), py::arg("indices"),
          py::arg("low"), py::arg("step"), py::arg("levels"), py::arg("ratio"), py::arg("seed"),
          py::arg("n_threads"), py::arg("ends") = "extend");
    m.def("sample_unrated_pairs", &sample_unrated_pairs,
          "Every user's unrated items, each kept with probability ratio (the user's own random stream "
          "of seed): (users, items) int32 by user, items ascending; O(rated + kept) work.",
          py::arg("indptr"), py::arg("indices"), py::arg("n_items"), py::arg("ratio"), py::arg("seed"),
          py::arg("n_threads") = 1);
    m.def("merge_csr", &merge_csr,
          "Union of two CSR matrices with disjoint supports, rows sorted; returns (indptr, indices, values).",
          py::arg("indptr_a"), py::arg("indices_a"), py::arg("values_a"), py::arg("indptr_b"), py::arg("indices_b"),
          py::arg("values_b"), py::arg("n_cols"));
    m.def("mask_seen", &mask_seen, "Set each row's seen items (CSR rows users[r]) to -inf, in place.",
          py::arg("scores"), py::arg("users"), py::arg("indptr"), py::arg("indices"), py::arg("n_threads"));
    m.def("topk_rows", &topk_rows, "(items, scores) of the k best entries of each row.", py::arg("scores"),
          py::arg("k"), py::arg("n_threads"));
    m.def("rank_items", &rank_items, "1-based rank of queried items per row (-1 when masked).",
          py::arg("scores"), py::arg("query"), py::arg("n_threads"));
}
