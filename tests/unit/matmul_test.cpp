#include <gtest/gtest.h>

#include <omp.h>
#include "test_random.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "simtune/core/matmul.h"

namespace simtune {
namespace {

using testing::randn;

TEST(Matmul, MatchesNaiveProductIncludingTails) {
  for (auto [N, C, OC] : {std::tuple{13, 300, 40}, std::tuple{1, 7, 3}, std::tuple{6, 513, 16}}) {
    const auto x = randn(static_cast<std::size_t>(N) * C, 1),
               w = randn(static_cast<std::size_t>(OC) * C, 2);
    const PackedMatrix packed(w.data(), OC, C);
    std::vector<float> out(static_cast<std::size_t>(N) * OC);
    matmul_packed(out.data(), x.data(), packed, N);
    double max_diff = 0;
    for (int n = 0; n < N; n++) {
      for (int o = 0; o < OC; o++) {
        double want = 0;
        for (int k = 0; k < C; k++) want += double(x[n * C + k]) * w[o * C + k];
        max_diff = std::max(max_diff, std::abs(want - out[n * OC + o]));
      }
    }
    EXPECT_LE(max_diff, 1e-4) << N << "x" << C << "x" << OC;
  }
}

// The gradient products read their operands in place (row-major, no packing): tails in every
// dimension, k past one 256-deep block, and accumulation into what the output held (or not).
TEST(Matmul, GradientProductsMatchNaiveAndAccumulate) {
  for (auto [N, C, OC] : {std::tuple{13, 300, 40}, std::tuple{1, 7, 3}, std::tuple{300, 33, 17}}) {
    const auto x = randn(static_cast<std::size_t>(N) * C, 5),
               w = randn(static_cast<std::size_t>(OC) * C, 6),
               dy = randn(static_cast<std::size_t>(N) * OC, 7);
    auto dx = randn(static_cast<std::size_t>(N) * C, 8);
    auto dw = randn(static_cast<std::size_t>(OC) * C, 9);
    const std::vector<float> dx0 = dx, dw0 = dw;
    matmul_dinp(dx.data(), dy.data(), w.data(), N, C, OC, Into::add);
    matmul_dweight(dw.data(), dy.data(), x.data(), N, C, OC);
    // Into::write: the product alone, whatever the buffer held; the same bits as adding it to
    // zeros.
    std::vector<float> written = randn(static_cast<std::size_t>(N) * C, 10);
    std::vector<float> added(written.size(), 0.0f);
    matmul_dinp(written.data(), dy.data(), w.data(), N, C, OC, Into::write);
    matmul_dinp(added.data(), dy.data(), w.data(), N, C, OC, Into::add);
    EXPECT_EQ(written, added) << "dinp written " << N << "x" << C << "x" << OC;
    // Both products in one parallel region: the same bits as each alone.
    std::vector<float> together_dx = dx0, together_dw = dw0;
    matmul_backward(together_dx.data(), together_dw.data(), dy.data(), x.data(), w.data(), N, C, OC,
                    Into::add);
    EXPECT_EQ(together_dx, dx) << "dinp together " << N << "x" << C << "x" << OC;
    EXPECT_EQ(together_dw, dw) << "dweight together " << N << "x" << C << "x" << OC;
    double max_dx = 0, max_dw = 0;
    for (int n = 0; n < N; n++) {
      for (int c = 0; c < C; c++) {
        double want = dx0[n * C + c];
        for (int o = 0; o < OC; o++) want += double(dy[n * OC + o]) * w[o * C + c];
        max_dx = std::max(max_dx, std::abs(want - dx[n * C + c]));
      }
    }
    for (int o = 0; o < OC; o++) {
      for (int c = 0; c < C; c++) {
        double want = dw0[o * C + c];
        for (int n = 0; n < N; n++) want += double(dy[n * OC + o]) * x[n * C + c];
        max_dw = std::max(max_dw, std::abs(want - dw[o * C + c]));
      }
    }
    EXPECT_LE(max_dx, 1e-4) << "dinp " << N << "x" << C << "x" << OC;
    EXPECT_LE(max_dw, 1e-4) << "dweight " << N << "x" << C << "x" << OC;
  }
}

// A weight read in place (training) gives the packed copy's bits: tails in every dimension, k
// past one 256-deep block.
TEST(Matmul, InPlaceWeightEqualsPackedCopy) {
  for (auto [N, C, OC] : {std::tuple{13, 300, 40}, std::tuple{1, 7, 3}, std::tuple{300, 33, 17},
                          std::tuple{40, 384, 1152}}) {
    const auto x = randn(static_cast<std::size_t>(N) * C, 11),
               w = randn(static_cast<std::size_t>(OC) * C, 12);
    std::vector<float> packed(static_cast<std::size_t>(N) * OC), in_place(packed.size());
    matmul_packed(packed.data(), x.data(), PackedMatrix(w.data(), OC, C), N);
    matmul_packed(in_place.data(), x.data(), PackedMatrix::in_place(w.data(), OC, C), N);
    EXPECT_EQ(packed, in_place) << N << "x" << C << "x" << OC;
  }
}

// The property the kernel exists for: a row's result is bit-identical whatever the batch.
TEST(Matmul, RowResultIndependentOfBatchPositionAndThreads) {
  const int C = 384, OC = 1536, N = 77;
  const auto x = randn(static_cast<std::size_t>(N) * C, 3),
             w = randn(static_cast<std::size_t>(OC) * C, 4);
  const PackedMatrix packed(w.data(), OC, C);
  std::vector<float> all(static_cast<std::size_t>(N) * OC), one(OC);
  const int threads = omp_get_max_threads();
  for (int t : {1, threads}) {
    omp_set_num_threads(t);
    matmul_packed(all.data(), x.data(), packed, N);
    for (int n : {0, 5, 6, 40, 76}) {
      matmul_packed(one.data(), x.data() + static_cast<std::size_t>(n) * C, packed, 1);
      EXPECT_EQ(0, std::memcmp(one.data(), all.data() + static_cast<std::size_t>(n) * OC,
                               OC * sizeof(float)))
          << "row " << n << " with " << t << " threads";
    }
  }
  omp_set_num_threads(threads);
}

// However the threads split a product (runs that start inside a column tile, column tiles taken
// several at a time over many row blocks, k past several 256-deep blocks), every element is the
// same chain: bit-identical to one thread, for every layout of b; and an epilogue sees each
// block of the output once, finished.
TEST(Matmul, ThreadSplitsNeverChangeTheProduct) {
  const int N = 500, C = 300, OC = 700;
  const auto x = randn(static_cast<std::size_t>(N) * C, 13),
             w = randn(static_cast<std::size_t>(OC) * C, 14),
             dy = randn(static_cast<std::size_t>(N) * OC, 15);
  const PackedMatrix packed(w.data(), OC, C);
  const TileEpilogue plus_one{
      [](const void*, float* block, std::ptrdiff_t ld, int, int rows, int, int cols) noexcept {
        for (int r = 0; r < rows; r++) {
          for (int c = 0; c < cols; c++) block[r * ld + c] += 1.0f;
        }
      },
      nullptr};
  struct Results {
    std::vector<float> forward, in_place, shifted, dx, dw;
  };
  auto run = [&] {
    Results r{std::vector<float>(static_cast<std::size_t>(N) * OC),
              std::vector<float>(static_cast<std::size_t>(N) * OC),
              std::vector<float>(static_cast<std::size_t>(N) * OC),
              std::vector<float>(static_cast<std::size_t>(N) * C),
              std::vector<float>(static_cast<std::size_t>(OC) * C, 0.5f)};
    matmul_packed(r.forward.data(), x.data(), packed, N);
    matmul_packed(r.in_place.data(), x.data(), PackedMatrix::in_place(w.data(), OC, C), N);
    matmul_packed(r.shifted.data(), x.data(), packed, N, &plus_one);
    matmul_backward(r.dx.data(), r.dw.data(), dy.data(), x.data(), w.data(), N, C, OC, Into::write);
    return r;
  };
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Results one = run();
  for (std::size_t i = 0; i < one.forward.size(); i++) {
    ASSERT_EQ(one.shifted[i], one.forward[i] + 1.0f) << "epilogue at element " << i;
  }
  EXPECT_EQ(one.in_place, one.forward);
  for (int t : {2, 3, 5, 7}) {
    omp_set_num_threads(t);
    const Results r = run();
    EXPECT_EQ(r.forward, one.forward) << t << " threads";
    EXPECT_EQ(r.in_place, one.forward) << t << " threads";
    EXPECT_EQ(r.shifted, one.shifted) << t << " threads";
    EXPECT_EQ(r.dx, one.dx) << t << " threads";
    EXPECT_EQ(r.dw, one.dw) << t << " threads";
  }
  omp_set_num_threads(threads);
}

}  // namespace
}  // namespace simtune
