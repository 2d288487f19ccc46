#include "log/tile.h"

#include "gtest/gtest.h"
#include "log/tile_tree.h"

namespace clover::log {
namespace {

TEST(TileTest, FormatIndex) {
  EXPECT_EQ(FormatTileIndex(0), "000");
  EXPECT_EQ(FormatTileIndex(67), "067");
  EXPECT_EQ(FormatTileIndex(1000), "x001/000");
  EXPECT_EQ(FormatTileIndex(1234067), "x001/x234/067");
  EXPECT_EQ(FormatTileIndex(UINT64_MAX), "x018/x446/x744/x073/x709/x551/615");
}

TEST(TileTest, FormatPath) {
  EXPECT_EQ(FormatTilePath({false, 0, 1234067, 256}), "tile/0/x001/x234/067");
  EXPECT_EQ(FormatTilePath({false, 2, 5, 17}), "tile/2/005.p/17");
  EXPECT_EQ(FormatTilePath({true, 0, 1000, 1}), "tile/entries/x001/000.p/1");
}

TEST(TileTest, ParseRoundTrip) {
  for (uint64_t index :
       {0ull, 1ull, 999ull, 1000ull, 1234067ull, 18446744073709551615ull}) {
    for (int width : {1, 7, 255, 256}) {
      for (bool entries : {false, true}) {
        TilePath p{entries, entries ? 0 : 3, index, width};
        auto parsed = ParseTilePath(FormatTilePath(p));
        ASSERT_TRUE(parsed.ok())
            << FormatTilePath(p) << ": " << parsed.status();
        EXPECT_EQ(*parsed, p);
      }
    }
  }
  auto p = ParseTilePath("tile/63/x001/x234/067.p/255");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->level, 63);
  EXPECT_EQ(p->index, 1234067u);
  EXPECT_EQ(p->width, 255);
}

TEST(TileTest, ParseRejectsMalformed) {
  for (const char* bad : {"",
                          "tile/",
                          "tile/0",
                          "tile/0/",
                          "tile/00/000",
                          "tile/64/000",
                          "tile/-1/000",
                          "tile/0/67",
                          "tile/0/0067",
                          "tile/0/x000/067",
                          "tile/0/001/067",
                          "tile/0/x01/067",
                          "tile/0/x001/67",
                          "tile/0/000.p/0",
                          "tile/0/000.p/256",
                          "tile/0/000.p/07",
                          "tile/0/000.p/",
                          "tile/0/000.p",
                          "tile/0/000/",
                          "tile/0/abc",
                          "tile/entries/000.p/1x",
                          "tile/x/000",
                          "tiles/0/000",
                          "tile/0/x018/x446/x744/x073/x709/x551/616",
                          "tile/0/x001/x001/x001/x001/x001/x001/x001/000",
                          "tile/0/000.p/1/extra",
                          "tile/entries",
                          "tile/0/x1a3/000"}) {
    EXPECT_FALSE(ParseTilePath(bad).ok()) << bad;
  }
}

TEST(TileTest, Widths) {
  // The tlog-tiles example: size 70,000.
  EXPECT_EQ(FullTileCount(70000, 0), 273u);
  EXPECT_EQ(PartialTileWidth(70000, 0), 112);
  EXPECT_EQ(FullTileCount(70000, 1), 1u);
  EXPECT_EQ(PartialTileWidth(70000, 1), 17);
  EXPECT_EQ(PartialTileWidth(70000, 2), 1);
  EXPECT_EQ(PartialTileWidth(70000, 3), 0);
  EXPECT_EQ(PartialTileWidth(256, 0), 0);
  EXPECT_EQ(PartialTileWidth(256, 1), 1);
  EXPECT_EQ(HashesAtLevel(UINT64_MAX, 8), 0u);
}

TEST(TileTest, Bundles) {
  std::string bundle;
  ASSERT_TRUE(AppendToBundle(bundle, "").ok());
  ASSERT_TRUE(AppendToBundle(bundle, "hello").ok());
  ASSERT_TRUE(AppendToBundle(bundle, std::string(65535, 'x')).ok());
  auto too_big = AppendToBundle(bundle, std::string(65536, 'x'));
  EXPECT_EQ(too_big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bundle.substr(0, 9), std::string("\x00\x00\x00\x05hello", 9));
  auto entries = ParseEntryBundle(bundle);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[1], "hello");
  EXPECT_EQ((*entries)[2].size(), 65535u);
  EXPECT_EQ(*BundlePrefixSize(bundle, 2), 9u);
  EXPECT_FALSE(BundlePrefixSize(bundle, 4).ok());
  EXPECT_FALSE(ParseEntryBundle(bundle.substr(0, 8)).ok());
  EXPECT_FALSE(ParseEntryBundle(std::string("\x00", 1)).ok());
}

TEST(TileTreeTest, NodesMatchMerkleRoots) {
  MerkleHasher hasher;
  TileTree t;
  std::vector<Hash> leaves;
  for (int i = 0; i < 256; ++i) {
    leaves.push_back(LeafHash(std::to_string(i)));
    t.Append(leaves.back(), hasher);
  }
  ASSERT_TRUE(t.full());
  EXPECT_EQ(t.Root(), RootFromLeafHashes(leaves));
  // Node (3, 5) covers leaves 40..47.
  EXPECT_EQ(*t.Node(3, 5),
            RootFromLeafHashes(std::span(leaves).subspan(40, 8)));
  EXPECT_EQ(t.Node(3, 32), nullptr);
  auto copy = TileTree::FromBytes(t.Serialize(), hasher);
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(copy->Root(), t.Root());
  EXPECT_EQ(t.Serialize(3).size(), 96u);
  EXPECT_FALSE(TileTree::FromBytes("short", hasher).ok());
  EXPECT_FALSE(TileTree::FromBytes(std::string(257 * 32, 'a'), hasher).ok());
}

}  // namespace
}  // namespace clover::log
