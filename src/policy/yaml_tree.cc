#include "policy/yaml_tree.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace clover::policy {
namespace {

// Thrown-free signal that the fast parser met something outside its subset.
absl::Status Unsupported() {
  return absl::UnimplementedError("outside the fast YAML subset");
}

// Characters the fast parser accepts inside plain scalars. yaml-cpp tokenizes
// some others (e.g. '?' in flow context) in its own way; texts using them go to
// yaml-cpp.
bool SafePlainChar(char c, bool flow) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case ' ':
    case '-':
    case '_':
    case '.':
    case '/':
    case '(':
    case ')':
    case '+':
    case '=':
    case ';':
    case '$':
    case '^':
    case '<':
    case '~':
    case ':':
    case '#':
      return true;
    case ',':
    case '[':
    case ']':
    case '{':
    case '}':
    case '\'':
    case '"':
      return !flow;
    default:
      return false;
  }
}

bool IsNullScalar(absl::string_view s) {
  return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

class FastParser {
 public:
  explicit FastParser(absl::string_view text) : s_(text) {}

  absl::StatusOr<YNode> Document() {
    for (size_t i = 0; i < s_.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(s_[i]);
      // Tabs, CR, control characters, non-ASCII bytes: leave them to yaml-cpp.
      if ((c < 0x20 && c != '\n') || c >= 0x7f) return Unsupported();
      // A line starting "---" or "..." may be a document marker anywhere in
      // the text (yaml-cpp ends or starts a document there), not only first.
      const bool line_start = i == 0 || s_[i - 1] == '\n';
      if (line_start &&
          (s_.substr(i, 3) == "---" || s_.substr(i, 3) == "...")) {
        return Unsupported();
      }
    }
    SkipBlankLines();
    if (AtEnd()) return YNode(YNode::Kind::kNull, 1, 1);
    if (Column() != 0) return Unsupported();
    absl::StatusOr<YNode> root = BlockNode(0, -1);
    if (!root.ok()) return root;
    SkipBlankLines();
    if (!AtEnd()) return Unsupported();
    return root;
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\n';
  }
  int Column() const { return static_cast<int>(pos_ - line_start_); }
  YNode Node(YNode::Kind kind, size_t at) const {
    return YNode(kind, line_, static_cast<int>(at - line_start_) + 1);
  }
  void NewLine() {
    ++pos_;
    ++line_;
    line_start_ = pos_;
  }
  void SkipSpaces() {
    while (Peek() == ' ' && !AtEnd()) ++pos_;
  }
  // At the end of a line's content: spaces, then an optional comment, then
  // newline or end.
  bool AtLineEnd() {
    SkipSpaces();
    if (Peek() == '#') {
      while (!AtEnd() && s_[pos_] != '\n') ++pos_;
    }
    return AtEnd() || s_[pos_] == '\n';
  }
  // From the start of a line (or a content character), moves past blank and
  // comment-only lines to the first content character of the next line with
  // content, or the end.
  void SkipBlankLines() {
    while (!AtEnd()) {
      size_t e = pos_;
      while (e < s_.size() && s_[e] == ' ') ++e;
      if (e >= s_.size()) {
        pos_ = e;
        return;
      }
      if (s_[e] == '\n') {
        pos_ = e;
        NewLine();
        continue;
      }
      if (s_[e] == '#' && (e == line_start_ || s_[e - 1] == ' ')) {
        pos_ = e;
        while (!AtEnd() && s_[pos_] != '\n') ++pos_;
        if (AtEnd()) return;
        NewLine();
        continue;
      }
      pos_ = e;
      return;
    }
  }
  bool EndOfLineAfterContent() {
    if (!AtLineEnd()) return false;
    if (!AtEnd()) NewLine();
    return true;
  }
  bool SeqEntryHere() const {
    return Peek() == '-' && (Peek(1) == ' ' || Peek(1) == '\n');
  }
  // Whether the line from pos_ reads `key:` followed by a space or the end of
  // the line.
  bool MapEntryHere() const {
    const char c = Peek();
    if (c == '-' || c == '[' || c == '{' || c == '"' || c == '\'' || c == '#' ||
        c == '?' || c == ':' || c == '&' || c == '*' || c == '!' || c == '|' ||
        c == '>' || c == '%' || c == '@' || c == '`' || c == ',' || c == ']' ||
        c == '}') {
      return false;
    }
    for (size_t i = pos_; i < s_.size() && s_[i] != '\n'; ++i) {
      if (s_[i] == '#' && i > pos_ && s_[i - 1] == ' ') return false;
      if (s_[i] == ':' &&
          (i + 1 == s_.size() || s_[i + 1] == ' ' || s_[i + 1] == '\n')) {
        return true;
      }
    }
    return false;
  }

  // A block node whose first token is at pos_ (column `indent`), inside a
  // parent block indented `parent`.
  absl::StatusOr<YNode> BlockNode(int indent, int parent) {
    if (indent <= parent) return Unsupported();
    if (SeqEntryHere()) return BlockSequence(indent);
    if (MapEntryHere()) return BlockMap(indent);
    absl::StatusOr<YNode> v = InlineValue(parent);
    if (!v.ok()) return v;
    if (!EndOfLineAfterContent()) return Unsupported();
    return v;
  }

  absl::StatusOr<YNode> BlockSequence(int indent) {
    YNode seq = Node(YNode::Kind::kSequence, pos_);
    while (true) {
      ++pos_;  // '-'
      SkipSpaces();
      if (AtLineEnd()) {
        if (!AtEnd()) NewLine();
        SkipBlankLines();
        if (!AtEnd() && Column() > indent) {
          absl::StatusOr<YNode> item = BlockNode(Column(), indent);
          if (!item.ok()) return item;
          seq.mutable_items().push_back(*std::move(item));
        } else {
          seq.mutable_items().push_back(Node(YNode::Kind::kNull, pos_));
        }
      } else {
        const int column = Column();
        if (SeqEntryHere()) return Unsupported();  // "- - x"
        if (MapEntryHere()) {
          absl::StatusOr<YNode> item = BlockMap(column);
          if (!item.ok()) return item;
          seq.mutable_items().push_back(*std::move(item));
        } else {
          absl::StatusOr<YNode> item = InlineValue(indent);
          if (!item.ok()) return item;
          if (!EndOfLineAfterContent()) return Unsupported();
          seq.mutable_items().push_back(*std::move(item));
        }
      }
      SkipBlankLines();
      if (AtEnd() || Column() < indent) return seq;
      if (Column() > indent) return Unsupported();
      // A same-indented line without '-' ends a sequence written at its key's
      // indentation
      // ("key:\n- a\nnext: b"); anywhere else the caller finds it out of place.
      if (!SeqEntryHere()) return seq;
    }
  }

  absl::StatusOr<YNode> BlockMap(int indent) {
    YNode map = Node(YNode::Kind::kMap, pos_);
    while (true) {
      if (!MapEntryHere()) return Unsupported();
      const size_t key_start = pos_;
      while (
          !(s_[pos_] == ':' && (pos_ + 1 == s_.size() || s_[pos_ + 1] == ' ' ||
                                s_[pos_ + 1] == '\n'))) {
        ++pos_;
      }
      std::string key(absl::StripTrailingAsciiWhitespace(
          s_.substr(key_start, pos_ - key_start)));
      if (key.empty() || IsNullScalar(key)) return Unsupported();
      for (char c : key) {
        if (!SafePlainChar(c, /*flow=*/true) || c == '#') return Unsupported();
      }
      YNode key_node = Node(YNode::Kind::kScalar, key_start);
      key_node.set_scalar(std::move(key));
      ++pos_;  // ':'
      YNode value;
      SkipSpaces();
      const size_t after_colon = pos_;
      if (AtLineEnd()) {
        value = Node(YNode::Kind::kNull, after_colon);
        if (!AtEnd()) NewLine();
        SkipBlankLines();
        if (!AtEnd() && Column() > indent) {
          absl::StatusOr<YNode> v = BlockNode(Column(), indent);
          if (!v.ok()) return v;
          value = *std::move(v);
        } else if (!AtEnd() && Column() == indent && SeqEntryHere()) {
          absl::StatusOr<YNode> v = BlockSequence(indent);
          if (!v.ok()) return v;
          value = *std::move(v);
        }
      } else {
        absl::StatusOr<YNode> v = InlineValue(indent);
        if (!v.ok()) return v;
        if (!EndOfLineAfterContent()) return Unsupported();
        value = *std::move(v);
        SkipBlankLines();
      }
      map.mutable_entries().emplace_back(std::move(key_node), std::move(value));
      SkipBlankLines();
      if (AtEnd() || Column() < indent) return map;
      if (Column() > indent)
        return Unsupported();  // continuation lines, bad indentation
    }
  }

  // A value that starts on the current line: flow collection, quoted, block or
  // plain scalar. `indent` is the indentation of the block it belongs to.
  absl::StatusOr<YNode> InlineValue(int indent) {
    const char c = Peek();
    if (c == '[' || c == '{') return Flow(indent);
    if (c == '"' || c == '\'') return Quoted();
    if (c == '|' || c == '>') return BlockScalar(indent);
    if (c == '&' || c == '*' || c == '!' || c == '%' || c == '@' || c == '`' ||
        c == '?' || c == ',' || c == ']' || c == '}' || c == ':' || c == '#' ||
        SeqEntryHere()) {
      return Unsupported();
    }
    const size_t start = pos_;
    while (!AtEnd() && s_[pos_] != '\n') {
      if (s_[pos_] == '#' && s_[pos_ - 1] == ' ') break;
      if (s_[pos_] == ':' && (Peek(1) == ' ' || Peek(1) == '\n'))
        return Unsupported();
      if (!SafePlainChar(s_[pos_], /*flow=*/false)) return Unsupported();
      ++pos_;
    }
    return PlainScalar(start, pos_);
  }

  YNode PlainScalar(size_t start, size_t end) const {
    std::string v(
        absl::StripTrailingAsciiWhitespace(s_.substr(start, end - start)));
    if (IsNullScalar(v))
      return YNode(YNode::Kind::kNull, line_,
                   static_cast<int>(start - line_start_) + 1);
    YNode n(YNode::Kind::kScalar, line_,
            static_cast<int>(start - line_start_) + 1);
    n.set_scalar(std::move(v));
    return n;
  }

  absl::StatusOr<YNode> Quoted() {
    const char quote = s_[pos_];
    YNode n = Node(YNode::Kind::kScalar, pos_);
    ++pos_;
    std::string v;
    while (true) {
      if (AtEnd() || s_[pos_] == '\n')
        return Unsupported();  // multi-line or unterminated
      const char c = s_[pos_++];
      if (c == quote) {
        if (quote == '\'' && Peek() == '\'') {
          v += '\'';
          ++pos_;
          continue;
        }
        break;
      }
      if (quote == '"' && c == '\\') {
        switch (Peek()) {
          case '\\':
            v += '\\';
            break;
          case '"':
            v += '"';
            break;
          case '/':
            v += '/';
            break;
          case 'n':
            v += '\n';
            break;
          case 't':
            v += '\t';
            break;
          default:
            return Unsupported();
        }
        ++pos_;
        continue;
      }
      v += c;
    }
    n.set_scalar(std::move(v));
    return n;
  }

  absl::StatusOr<YNode> BlockScalar(int indent) {
    if (indent < 0) return Unsupported();  // a whole document as a block scalar
    YNode n = Node(YNode::Kind::kScalar, pos_);
    const bool folded = s_[pos_] == '>';
    ++pos_;
    bool strip = false;
    if (Peek() == '-') {
      strip = true;
      ++pos_;
    }
    if (Peek() != ' ' && Peek() != '\n')
      return Unsupported();  // '+', indentation digits
    if (!AtLineEnd()) return Unsupported();
    std::vector<std::string> lines;  // "" for empty lines
    int content_indent = -1;
    bool last_has_break = true;
    while (!AtEnd()) {
      // Remember the end of the last consumed line: the caller resumes there.
      const size_t save_pos = pos_, save_line_start = line_start_;
      const int save_line = line_;
      NewLine();
      size_t e = pos_;
      while (e < s_.size() && s_[e] == ' ') ++e;
      const int spaces = static_cast<int>(e - pos_);
      if (e >= s_.size() || s_[e] == '\n') {  // an empty line
        // Leading empty lines and whitespace-only lines have subtle rules:
        // yaml-cpp's job.
        if (spaces > 0 || content_indent < 0) return Unsupported();
        pos_ = e;
        if (AtEnd()) break;
        lines.emplace_back();
        continue;
      }
      if (content_indent < 0) {
        if (spaces <= indent) return Unsupported();  // empty block scalar
        content_indent = spaces;
      }
      if (spaces < content_indent) {
        pos_ = save_pos;
        line_start_ = save_line_start;
        line_ = save_line;
        break;
      }
      if (spaces > content_indent && folded) return Unsupported();
      size_t end = e;
      while (end < s_.size() && s_[end] != '\n') ++end;
      lines.emplace_back(
          s_.substr(pos_ + content_indent, end - pos_ - content_indent));
      // A last line cut off by the end of the text has no line break to keep.
      last_has_break = end < s_.size();
      pos_ = end;
    }
    if (content_indent < 0) return Unsupported();
    size_t trailing_empty = 0;
    while (!lines.empty() && lines.back().empty()) {
      lines.pop_back();
      ++trailing_empty;
    }
    std::string v;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) {
        if (!folded) {
          v += '\n';
        } else if (!lines[i].empty() && !lines[i - 1].empty()) {
          v += ' ';
        } else if (lines[i].empty()) {
          v += '\n';
        }
      }
      v += lines[i];
    }
    if (!lines.empty() && !strip && last_has_break) v += '\n';
    (void)trailing_empty;
    n.set_scalar(std::move(v));
    // The caller expects the value's line to end here.
    return n;
  }

  // Skips whitespace, newlines and comments inside a flow collection;
  // continuation lines must be indented past the enclosing block.
  bool FlowSpace(int indent) {
    while (!AtEnd()) {
      const char c = s_[pos_];
      if (c == ' ') {
        ++pos_;
      } else if (c == '\n') {
        NewLine();
        size_t e = pos_;
        while (e < s_.size() && s_[e] == ' ') ++e;
        if (e < s_.size() && s_[e] != '\n' && s_[e] != '#' &&
            static_cast<int>(e - pos_) <= indent) {
          return false;
        }
      } else if (c == '#') {
        if (pos_ == line_start_ || s_[pos_ - 1] != ' ') return false;
        while (!AtEnd() && s_[pos_] != '\n') ++pos_;
      } else {
        return true;
      }
    }
    return false;  // unterminated
  }

  absl::StatusOr<YNode> FlowScalar(bool in_map_key) {
    const char c = Peek();
    if (c == '"' || c == '\'') return Quoted();
    if (c == '[' || c == '{' || c == ',' || c == ']' || c == '}' || c == '&' ||
        c == '*' || c == '!' || c == '%' || c == '@' || c == '`' || c == '?' ||
        c == ':' || c == '#' || c == '|' || c == '>' ||
        (c == '-' && (Peek(1) == ' ' || Peek(1) == '\n'))) {
      return Unsupported();
    }
    const size_t start = pos_;
    while (!AtEnd()) {
      const char d = s_[pos_];
      if (d == '\n' || d == ',' || d == '[' || d == ']' || d == '{' || d == '}')
        break;
      if (d == '#' && s_[pos_ - 1] == ' ') break;
      if (d == ':') {
        if (!in_map_key) return Unsupported();
        break;
      }
      if (!SafePlainChar(d, /*flow=*/true)) return Unsupported();
      ++pos_;
    }
    return PlainScalar(start, pos_);
  }

  absl::StatusOr<YNode> Flow(int indent) {
    if (++depth_ > 64) return Unsupported();
    const bool is_map = s_[pos_] == '{';
    const char close = is_map ? '}' : ']';
    YNode n = Node(is_map ? YNode::Kind::kMap : YNode::Kind::kSequence, pos_);
    ++pos_;
    if (!FlowSpace(indent)) return Unsupported();
    if (Peek() == close) {
      ++pos_;
      --depth_;
      return n;
    }
    while (true) {
      if (!FlowSpace(indent)) return Unsupported();
      if (is_map) {
        const char c = Peek();
        if (c == '"' || c == '\'' || c == '[' || c == '{') return Unsupported();
        absl::StatusOr<YNode> key = FlowScalar(/*in_map_key=*/true);
        if (!key.ok()) return key;
        if (!key->IsScalar() || Peek() != ':') return Unsupported();
        ++pos_;
        if (Peek() != ' ' && Peek() != '\n') return Unsupported();
        if (!FlowSpace(indent)) return Unsupported();
        if (Peek() == ',' || Peek() == '}') return Unsupported();
        absl::StatusOr<YNode> value = Peek() == '[' || Peek() == '{'
                                          ? Flow(indent)
                                          : FlowScalar(/*in_map_key=*/false);
        if (!value.ok()) return value;
        n.mutable_entries().emplace_back(*std::move(key), *std::move(value));
      } else {
        absl::StatusOr<YNode> item = Peek() == '[' || Peek() == '{'
                                         ? Flow(indent)
                                         : FlowScalar(/*in_map_key=*/false);
        if (!item.ok()) return item;
        n.mutable_items().push_back(*std::move(item));
      }
      if (!FlowSpace(indent)) return Unsupported();
      if (Peek() == ',') {
        ++pos_;
        if (!FlowSpace(indent) || Peek() == close)
          return Unsupported();  // trailing comma
        continue;
      }
      if (Peek() == close) {
        ++pos_;
        --depth_;
        return n;
      }
      return Unsupported();
    }
  }

  absl::string_view s_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
  int depth_ = 0;
};

constexpr size_t kMaxNodes = 1'000'000;

absl::Status Convert(const YAML::Node& in, YNode& out, size_t& budget,
                     int depth) {
  if (budget == 0 || --budget == 0 || depth > 1000) {
    return absl::InvalidArgumentError("document too large or too deep");
  }
  const YAML::Mark m = in.Mark();
  const int line = m.is_null() ? 0 : m.line + 1;
  const int column = m.is_null() ? 0 : m.column + 1;
  switch (in.Type()) {
    case YAML::NodeType::Undefined:
      out = YNode();
      return absl::OkStatus();
    case YAML::NodeType::Null:
      out = YNode(YNode::Kind::kNull, line, column);
      return absl::OkStatus();
    case YAML::NodeType::Scalar:
      out = YNode(YNode::Kind::kScalar, line, column);
      out.set_scalar(in.Scalar());
      return absl::OkStatus();
    case YAML::NodeType::Sequence:
      out = YNode(YNode::Kind::kSequence, line, column);
      for (const YAML::Node& item : in) {
        out.mutable_items().emplace_back();
        if (absl::Status s =
                Convert(item, out.mutable_items().back(), budget, depth + 1);
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    case YAML::NodeType::Map:
      out = YNode(YNode::Kind::kMap, line, column);
      for (const auto& kv : in) {
        out.mutable_entries().emplace_back();
        auto& [k, v] = out.mutable_entries().back();
        if (absl::Status s = Convert(kv.first, k, budget, depth + 1); !s.ok())
          return s;
        if (absl::Status s = Convert(kv.second, v, budget, depth + 1); !s.ok())
          return s;
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace

const YNode& YNode::operator[](absl::string_view key) const {
  static const YNode* const kUndefined = new YNode();
  for (const auto& [k, v] : entries_) {
    if (k.IsScalar() && k.Scalar() == key) return v;
  }
  return *kUndefined;
}

bool YNode::SameAs(const YNode& other) const {
  if (kind_ != other.kind_ || scalar_ != other.scalar_ ||
      items_.size() != other.items_.size() ||
      entries_.size() != other.entries_.size()) {
    return false;
  }
  for (size_t i = 0; i < items_.size(); ++i) {
    if (!items_[i].SameAs(other.items_[i])) return false;
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i].first.SameAs(other.entries_[i].first) ||
        !entries_[i].second.SameAs(other.entries_[i].second)) {
      return false;
    }
  }
  return true;
}

bool ParseYamlBool(absl::string_view s, bool* out) {
  static constexpr absl::string_view kTrue[] = {
      "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static constexpr absl::string_view kFalse[] = {
      "n",     "N",     "no",  "No",  "NO", "false",
      "False", "FALSE", "off", "Off", "OFF"};
  for (absl::string_view t : kTrue) {
    if (s == t) return *out = true, true;
  }
  for (absl::string_view f : kFalse) {
    if (s == f) return *out = false, true;
  }
  return false;
}

absl::StatusOr<YNode> ParseYamlTreeFast(absl::string_view text) {
  return FastParser(text).Document();
}

absl::StatusOr<YNode> ParseYamlTreeWithYamlCpp(absl::string_view text) {
  YAML::Node root;
  // yaml-cpp reports errors by exception; this is the third-party boundary.
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where;
    if (!e.mark.is_null())
      where = absl::StrCat(e.mark.line + 1, ":", e.mark.column + 1, ": ");
    return absl::InvalidArgumentError(
        absl::StrCat(where, "invalid YAML: ", e.msg));
  }
  YNode out;
  size_t budget = kMaxNodes;
  if (absl::Status s = Convert(root, out, budget, 0); !s.ok()) return s;
  return out;
}

absl::StatusOr<YNode> ParseYamlTree(absl::string_view text) {
  absl::StatusOr<YNode> fast = ParseYamlTreeFast(text);
  if (fast.ok()) return fast;
  return ParseYamlTreeWithYamlCpp(text);
}

}  // namespace clover::policy
