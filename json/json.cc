#include "json/json.h"

#include <algorithm>
#include <stdexcept>

namespace pc::json {

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string scalarText(const Value& v) {
  return v.dump(-1, ' ', false, Value::error_handler_t::replace);
}

bool isRowArray(const Layout& layout, const std::string& key, const Value& v) {
  if (!v.is_array() || v.empty()) return false;
  return std::find(layout.rowArrays.begin(), layout.rowArrays.end(), key) != layout.rowArrays.end();
}

void renderTo(const Value& v, const Layout& layout, int depth, std::string& out);

// An array with each element on a line of its own, indented one step deeper than `depth`.
void renderRows(const Value& v, const Layout& layout, int depth, std::string& out) {
  const std::string indent(static_cast<size_t>(2 * (depth + 1)), ' ');
  out += "[";
  bool first = true;
  for (const auto& item : v) {
    out += first ? "\n" : ",\n";
    out += indent;
    renderTo(item, layout, depth + 1, out);
    first = false;
  }
  out += "]";
}

void renderObject(const Value& v, const Layout& layout, int depth, std::string& out) {
  const bool lines = depth == 0 && layout.membersOnLines;
  out += "{";
  bool first = true;
  for (const auto& [key, member] : v.items()) {
    if (lines) {
      out += first ? "\n  " : ",\n  ";
    } else if (!first) {
      out += ", ";
    }
    out += scalarText(Value(key));
    out += ": ";
    if (isRowArray(layout, key, member)) {
      renderRows(member, layout, depth + 1, out);
    } else {
      renderTo(member, layout, depth + 1, out);
    }
    first = false;
  }
  out += lines ? "\n}" : "}";
}

void renderTo(const Value& v, const Layout& layout, int depth, std::string& out) {
  if (v.is_object()) {
    renderObject(v, layout, depth, out);
  } else if (v.is_array()) {
    out += "[";
    bool first = true;
    for (const auto& item : v) {
      if (!first) out += ", ";
      renderTo(item, layout, depth + 1, out);
      first = false;
    }
    out += "]";
  } else {
    out += scalarText(v);
  }
}

}  // namespace

bool isValidUtf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07u;
    } else {
      return false;  // a continuation byte first, or 0xF8..0xFF
    }
    if (i + len > bytes.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(bytes[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    const uint32_t minimum = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < minimum || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kBase64[(n >> shift) & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += rest == 2 ? kBase64[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string fromBase64(std::string_view text) {
  if (text.size() % 4 != 0) throw std::invalid_argument("base64: length not a multiple of 4");
  std::string out;
  uint32_t n = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size()) throw std::invalid_argument("base64: '=' before the end");
      ++pad;
      continue;
    }
    if (pad > 0) throw std::invalid_argument("base64: data after '='");
    const char* at = std::char_traits<char>::find(kBase64, 64, c);
    if (at == nullptr) throw std::invalid_argument("base64: not a base64 character");
    n = (n << 6) | static_cast<uint32_t>(at - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((n >> bits) & 0xFF);
    }
  }
  return out;
}

void putBytes(Value& object, const std::string& field, std::string_view bytes) {
  if (isValidUtf8(bytes)) {
    object[field] = std::string(bytes);
  } else {
    object[field] = nullptr;
    object[field + "_base64"] = base64(bytes);
  }
}

std::optional<std::string> getBytes(const Value& object, const std::string& field) {
  auto it = object.find(field);
  if (it != object.end() && it->is_string()) return it->get<std::string>();
  auto b64 = object.find(field + "_base64");
  if (b64 != object.end() && b64->is_string()) return fromBase64(b64->get<std::string>());
  return std::nullopt;
}

std::string render(const Value& value, const Layout& layout) {
  std::string out;
  renderTo(value, layout, 0, out);
  return out;
}

}  // namespace pc::json
