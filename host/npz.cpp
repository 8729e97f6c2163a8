// SPDX-License-Identifier: Apache-2.0
#include "host/npz.hpp"

#include <zip.h>

#include <cstdio>
#include <memory>

#include "host/npy.hpp"

namespace nnproof {

void write_npz(const std::string& path, const std::vector<std::pair<std::string, std::vector<unsigned char>>>& arrays) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (archive == nullptr) {
    zip_error_t e;
    zip_error_init_with_code(&e, error);
    const std::string why = zip_error_strerror(&e);
    zip_error_fini(&e);
    throw NpyError(path + ": cannot write: " + why);
  }
  auto fail = [&](const std::string& what) {
    const std::string why = zip_strerror(archive);
    zip_discard(archive);
    std::remove(path.c_str());
    throw NpyError(path + ": cannot write " + what + ": " + why);
  };
  for (const auto& [name, bytes] : arrays) {
    // The buffers outlive zip_close, which reads them: no copy, libzip does not free them.
    zip_source_t* src = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    if (src == nullptr) fail(name);
    const zip_int64_t index = zip_file_add(archive, (name + ".npy").c_str(), src, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(src);
      fail(name);
    }
    if (zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0) != 0) fail(name);
  }
  if (zip_close(archive) != 0) fail("the archive");
}

}  // namespace nnproof
