// The two SIMD loops every sum reduction runs on (Highway, dynamic dispatch): the sum of a
// contiguous run and the accumulation of one contiguous row into another. A run's sum depends
// only on the run (its lanes combine in a fixed order), never on threads.
#pragma once
#include <cstdint>

namespace engine::cpu {

float sum_run(const float* x, int64_t n);
double sum_run(const double* x, int64_t n);
int64_t sum_run(const int64_t* x, int64_t n);

// acc[j] += x[j] for j < n.
void add_row(float* acc, const float* x, int64_t n);
void add_row(double* acc, const double* x, int64_t n);
void add_row(int64_t* acc, const int64_t* x, int64_t n);

}  // namespace engine::cpu
