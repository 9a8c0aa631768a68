// Shares of a batch or of input lines over ranks: contiguous, in rank order, covering every item
// once, sizes at most one apart, the larger first (what makes a rank's loss weight its share).
#include <gtest/gtest.h>

#include "simtune/dist/group.h"

namespace simtune::dist {
namespace {

TEST(Share, SplitsEvenlyInRankOrder) {
  for (std::size_t n : {0u, 1u, 2u, 7u, 15u, 16u, 1000u}) {
    for (int ranks : {1, 2, 3, 8, 64}) {
      std::size_t next = 0;
      for (int r = 0; r < ranks; r++) {
        const Share s = share_of(n, r, ranks);
        EXPECT_EQ(s.begin, next) << n << " items, rank " << r << " of " << ranks;
        const std::size_t expected = n / ranks + (static_cast<std::size_t>(r) < n % ranks);
        EXPECT_EQ(s.size(), expected) << n << " items, rank " << r << " of " << ranks;
        next = s.end;
      }
      EXPECT_EQ(next, n) << n << " items over " << ranks;
    }
  }
}

TEST(Share, FifteenOverTwoIsEightAndSeven) {
  EXPECT_EQ(share_of(15, 0, 2).begin, 0u);
  EXPECT_EQ(share_of(15, 0, 2).end, 8u);
  EXPECT_EQ(share_of(15, 1, 2).begin, 8u);
  EXPECT_EQ(share_of(15, 1, 2).end, 15u);
  EXPECT_EQ(share_of(1, 1, 2).size(), 0u);
}

TEST(Group, AloneWithoutMpirun) {
  if (launched_by_mpirun()) GTEST_SKIP() << "run under mpirun";
  Group& g = Group::world();
  EXPECT_EQ(g.size(), 1);
  EXPECT_TRUE(g.root());
  // Alone, a sum over ranks is the process's own values, untouched.
  float x[3] = {1.5f, -2.0f, 3.25f};
  g.sum_in_rank_order(x, 3);
  EXPECT_EQ(x[0], 1.5f);
  EXPECT_EQ(x[1], -2.0f);
  EXPECT_EQ(x[2], 3.25f);
}

}  // namespace
}  // namespace simtune::dist
