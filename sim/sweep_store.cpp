#include "sim/sweep_store.h"

#include <fmt/format.h>

#include <boost/crc.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include "common/error.h"
#include "sim/output_file.h"
#include "sim/report_io.h"

namespace npusim::sim {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormat = "npusim sweep journal 1";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Removes what a killed run may have left of its atomic writes in `dir`:
// the temporary files OutputFile makes beside a target ("<name>.partial-
// XXXXXX"), those whose target name starts with `prefix` and ends with
// `suffix`.
void remove_partials(const fs::path& dir, const std::string& prefix, const std::string& suffix) {
  std::error_code ec;
  constexpr std::string_view kMark = ".partial-";
  for (fs::directory_iterator it(dir.empty() ? fs::path(".") : dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < kMark.size() + 6) continue;
    const std::string target = name.substr(0, name.size() - kMark.size() - 6);
    if (name.compare(target.size(), kMark.size(), kMark) == 0 && target.rfind(prefix, 0) == 0 &&
        target.size() >= suffix.size() &&
        target.compare(target.size() - suffix.size(), suffix.size(), suffix) == 0) {
      fs::remove(it->path(), ec);
    }
  }
}

}  // namespace

std::string sweep_definition(const std::vector<std::pair<std::string, std::string>>& options) {
  std::string def;
  for (const auto& [name, value] : options) {
    def += fmt::format("--{} {}", name, value);
    std::string piece;
    for (size_t i = 0; i <= value.size(); ++i) {
      if (i < value.size() && value[i] != ',' && value[i] != '=') {
        piece += value[i];
        continue;
      }
      std::error_code ec;
      if (!piece.empty() && fs::is_regular_file(piece, ec)) {
        const std::string bytes = read_file(piece);
        boost::crc_32_type crc;
        crc.process_bytes(bytes.data(), bytes.size());
        def += fmt::format(" [{}: {} bytes, CRC-32 {:08x}]", piece, bytes.size(), crc.checksum());
      }
      piece.clear();
    }
    def += "\n";
  }
  return def;
}

SweepStore::SweepStore(Options options)
    : o_(std::move(options)), rows_(o_.names.size()), figures_(o_.names.size()) {
  if (!o_.csv.empty()) {
    journal_ = o_.csv + ".journal";
    const fs::path p(o_.csv);
    remove_partials(p.parent_path(), p.filename().string(), p.filename().string());
  } else if (!o_.reports.empty()) {
    journal_ = (fs::path(o_.reports) / "journal").string();
  }
  if (!o_.reports.empty()) {
    std::error_code ec;
    fs::create_directories(o_.reports, ec);
    if (ec) {
      throw UserError(
          fmt::format("{}: --reports: cannot create the folder ({})", o_.reports, ec.message()));
    }
    remove_partials(o_.reports, "", ".json");
  }
  if (journal_.empty()) return;
  std::error_code ec;
  if (o_.restart) fs::remove(journal_, ec);
  if (fs::exists(journal_, ec)) load(journal_);
  const bool fresh = !fs::exists(journal_, ec);
  out_ = std::fopen(journal_.c_str(), "ab");
  if (out_ == nullptr) {
    throw UserError(fmt::format("{}: the sweep's journal: cannot write the file ({})", journal_,
                                std::strerror(errno)));
  }
  if (fresh) {
    std::string head = std::string(kFormat) + "\n";
    std::istringstream def(o_.definition);
    for (std::string line; std::getline(def, line);) head += "def " + line + "\n";
    head += fmt::format("points {}\n", o_.names.size());
    std::fputs(head.c_str(), out_);
    std::fflush(out_);
  }
  // The CSV says what the journal holds (a killed run may not have
  // rewritten it after its last points).
  dirty_ = true;
  flush();
}

SweepStore::~SweepStore() {
  try {
    if (dirty_) flush();
  } catch (const std::exception&) {  // the error that ended the sweep is the one to report
  }
  if (out_ != nullptr) std::fclose(out_);
}

void SweepStore::load(const std::string& journal) {
  const std::string text = read_file(journal);
  std::string expected = std::string(kFormat) + "\n";
  std::istringstream def(o_.definition);
  for (std::string line; std::getline(def, line);) expected += "def " + line + "\n";
  expected += fmt::format("points {}\n", o_.names.size());
  if (text.compare(0, expected.size(), expected) != 0) {
    // The first line that differs says what changed.
    std::istringstream a(text), b(expected);
    std::string was, now;
    while (std::getline(b, now) && std::getline(a, was) && was == now) {
    }
    throw UserError(fmt::format(
        "{}: holds the results of another sweep (it has '{}' where this one has '{}'): rerun "
        "with --restart to start over, or write the results elsewhere",
        journal, was, now));
  }
  // Point lines, each whole: a line a killed run left half-written is
  // dropped, and the file cut before it so that appends start clean.
  size_t at = expected.size();
  for (size_t end; (end = text.find('\n', at)) != std::string::npos; at = end + 1) {
    const std::string line = text.substr(at, end - at);
    const size_t tab1 = line.find('\t');
    const size_t tab2 = tab1 == std::string::npos ? tab1 : line.find('\t', tab1 + 1);
    size_t point = 0;
    if (line.rfind("point ", 0) != 0 || tab2 == std::string::npos ||
        std::sscanf(line.c_str() + 6, "%zu", &point) != 1 || point >= rows_.size()) {
      throw UserError(
          fmt::format("{}: line '{}' is not a point of this sweep: the journal is "
                      "damaged; rerun with --restart",
                      journal, line));
    }
    if (rows_[point].empty()) ++count_;
    figures_[point] = line.substr(tab1 + 1, tab2 - tab1 - 1);
    rows_[point] = line.substr(tab2 + 1);
  }
  if (at < text.size()) fs::resize_file(journal, at);
}

void SweepStore::record(size_t point, const Report* report, const std::string& row,
                        const std::string& figures) {
  if (report != nullptr && !o_.reports.empty()) {
    write_json(*report, (fs::path(o_.reports) / (o_.names[point] + ".json")).string(), "--reports");
  }
  if (out_ != nullptr) {
    const std::string line = fmt::format("point {}\t{}\t{}\n", point, figures, row);
    // One write: a kill leaves the line whole or missing (load() drops a torn one).
    if (std::fwrite(line.data(), 1, line.size(), out_) != line.size() || std::fflush(out_) != 0) {
      throw UserError(fmt::format("{}: the sweep's journal: writing the file failed ({})", journal_,
                                  std::strerror(errno)));
    }
  }
  if (rows_[point].empty()) ++count_;
  rows_[point] = row;
  figures_[point] = figures;
  dirty_ = true;
  // Rewriting the CSV costs O(points): at most a twentieth of the time.
  if (Clock::now() >= next_flush_) flush();
}

void SweepStore::flush() {
  if (!dirty_ || o_.csv.empty()) return;
  const auto start = Clock::now();
  OutputFile csv(o_.csv, "--csv");
  csv.stream() << o_.header << "\n";
  for (const std::string& row : rows_) {
    if (!row.empty()) csv.stream() << row << "\n";
  }
  csv.commit();
  dirty_ = false;
  const auto now = Clock::now();
  next_flush_ = now + 20 * (now - start);
}

std::vector<std::string> sweep_report_names(const std::vector<std::string>& fields,
                                            const std::vector<std::vector<std::string>>& grid) {
  std::vector<std::string> names;
  std::map<std::string, size_t> uses;
  for (const auto& values : grid) {
    std::string name;
    for (size_t a = 0; a < fields.size(); ++a) {
      std::string v = values[a];
      if (fields[a] == "system") v = fs::path(v).stem().string();
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      std::string part = fields[a] + "=" + v;
      for (char& c : part) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && std::strchr(".-+=", c) == nullptr) {
          c = '-';
        }
      }
      name += (name.empty() ? "" : "_") + part;
    }
    ++uses[name];
    names.push_back(name);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (uses[names[i]] > 1) names[i] += fmt::format("_{}", i);
  }
  return names;
}

}  // namespace npusim::sim
