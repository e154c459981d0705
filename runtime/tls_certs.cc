#include "runtime/tls_certs.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace pc::runtime {

namespace fs = std::filesystem;

namespace {

constexpr long kValiditySeconds = 10L * 365 * 24 * 3600;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

[[noreturn]] void fail(const std::string& step) {
  unsigned long e = ERR_get_error();
  char buf[256] = {};
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  throw std::runtime_error("TLS certificates: " + step + (e != 0 ? std::string(": ") + buf : ""));
}

Pkey newKey() {
  Pkey k(EVP_EC_gen("P-256"));
  if (!k) fail("generating an ECDSA P-256 key");
  return k;
}

void addName(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                 0) != 1) {
    fail(std::string("setting ") + field + " = " + value);
  }
}

void addExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("extension " + value);
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) fail("adding extension " + value);
}

struct Subject {
  std::string cn;
  std::string clusterTag;
  std::string san;  // "" for none, else e.g. "DNS:c1,IP:127.0.0.1"
  bool ca = false;
};

// A certificate for `key`, signed by `issuerKey` (the CA's; its own key for the CA).
Cert makeCert(const Subject& s, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuerKey) {
  Cert c(X509_new());
  if (!c) fail("X509_new");
  X509_set_version(c.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) fail("random serial");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()))) fail("serial");
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);  // clocks a little behind
  X509_gmtime_adj(X509_getm_notAfter(c.get()), kValiditySeconds);
  X509_NAME* name = X509_get_subject_name(c.get());
  addName(name, "O", "pcommit");
  addName(name, "OU", "cluster " + s.clusterTag);
  addName(name, "CN", s.cn);
  X509* signer = issuer ? issuer : c.get();
  if (X509_set_issuer_name(c.get(), X509_get_subject_name(signer)) != 1) fail("issuer name");
  if (X509_set_pubkey(c.get(), key) != 1) fail("public key");
  addExt(c.get(), signer, NID_subject_key_identifier, "hash");
  addExt(c.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (s.ca) {
    addExt(c.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    addExt(c.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExt(c.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    addExt(c.get(), signer, NID_key_usage, "critical,digitalSignature");
    addExt(c.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
    if (!s.san.empty()) addExt(c.get(), signer, NID_subject_alt_name, s.san);
  }
  if (X509_sign(c.get(), issuerKey, EVP_sha256()) == 0) fail("signing " + s.cn);
  return c;
}

// Writes `text` to `path` with `mode` (a key must never be readable by others, not even
// for a moment: the file is created with the mode, and an old one is replaced).
void writeFile(const fs::path& path, const std::string& text, mode_t mode) {
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string() + ": " + strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error("cannot write " + path.string() + ": " + strerror(e));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    throw std::runtime_error("cannot write " + path.string() + ": " + strerror(errno));
  }
}

std::string pemOf(X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("PEM of a certificate");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string pemOf(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("PEM of a key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string randomTag() {
  unsigned char b[8];
  if (RAND_bytes(b, sizeof b) != 1) fail("random cluster tag");
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char x : b) {
    s += hex[x >> 4];
    s += hex[x & 15];
  }
  return s;
}

// "IP:1.2.3.4" or "DNS:name" for a node's host.
std::string sanOfHost(const std::string& host) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
  if (ip) {
    ASN1_OCTET_STRING_free(ip);
    return "IP:" + host;
  }
  return "DNS:" + host;
}

// The path to write into the cluster file: relative to its folder when inside it.
std::string asWritten(const ClusterConfig& config, const fs::path& file) {
  std::error_code ec;
  fs::path rel = fs::relative(file, fs::absolute(config.dir()), ec);
  if (ec || rel.empty() || *rel.begin() == "..") return file.string();
  return rel.string();
}

}  // namespace

void createClusterCerts(ClusterConfig& config, const std::string& folder) {
  const fs::path dir = fs::absolute(folder);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);
  const std::string tag = randomTag();
  Pkey caKey = newKey();
  Cert ca = makeCert({"pcommit CA " + tag, tag, "", true}, caKey.get(), nullptr, caKey.get());
  writeFile(dir / "ca.key", pemOf(caKey.get()), 0600);
  writeFile(dir / "ca.pem", pemOf(ca.get()), 0644);
  // One keypair per name; returns the (cert, key) paths as the cluster file writes them.
  auto issue = [&](const std::string& cn, const std::string& san) {
    Pkey key = newKey();
    Cert cert = makeCert({cn, tag, san, false}, key.get(), ca.get(), caKey.get());
    writeFile(dir / (cn + ".key"), pemOf(key.get()), 0600);
    writeFile(dir / (cn + ".pem"), pemOf(cert.get()), 0644);
    return std::pair(asWritten(config, dir / (cn + ".pem")),
                     asWritten(config, dir / (cn + ".key")));
  };
  for (auto& n : config.nodes) {
    // A unix:PATH address has no host name to add.
    const std::string san = "DNS:" + n.name + (n.isUnix() ? "" : "," + sanOfHost(n.host));
    std::tie(n.tlsCert, n.tlsKey) = issue(n.name, san);
  }
  std::tie(config.tls.cert, config.tls.key) = issue("client", "");
  std::tie(config.tls.adminCert, config.tls.adminKey) = issue("admin", "");
  config.tls.ca = asWritten(config, dir / "ca.pem");
}

namespace {

// The PEM text of the file the cluster file's `key` (in `section`) names.
std::string readPem(const ClusterConfig& config, const std::string& section, const std::string& key,
                    const std::string& path) {
  const std::string where = config.path + ": " + section + ": " + key + " = " + path;
  if (path.empty()) throw ConfigError(where + ": missing (half a TLS configuration)");
  const std::string resolved = config.resolvePath(path);
  std::ifstream in(resolved, std::ios::binary);
  if (!in) throw ConfigError(where + ": cannot read " + resolved + ": " + strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(where + ": cannot read " + resolved);
  if (text.str().size() > (1u << 20)) throw ConfigError(where + ": larger than 1 MiB");
  return text.str();
}

// The certificate must be the key's and the CA's: otherwise every handshake would fail
// later, one connection at a time, with a message about the peer instead of this file.
void checkPair(const rpc::Tls::Pem& pem, const std::string& where) {
  auto read = [](const std::string& text, auto reader) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    return bio ? reader(bio.get()) : nullptr;
  };
  Cert ca(read(pem.ca, [](BIO* b) { return PEM_read_bio_X509(b, nullptr, nullptr, nullptr); }));
  Cert cert(read(pem.cert, [](BIO* b) { return PEM_read_bio_X509(b, nullptr, nullptr, nullptr); }));
  Pkey key(
      read(pem.key, [](BIO* b) { return PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr); }));
  ERR_clear_error();
  if (!ca) throw ConfigError(where + ": " + pem.caLabel + ": not a PEM certificate");
  if (!cert) throw ConfigError(where + ": " + pem.certLabel + ": not a PEM certificate");
  if (!key) throw ConfigError(where + ": " + pem.keyLabel + ": not a PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    throw ConfigError(where + ": " + pem.certLabel + " and " + pem.keyLabel +
                      ": the key does not belong to the certificate");
  }
  EVP_PKEY* caPub = X509_get0_pubkey(ca.get());
  if (!caPub || X509_verify(cert.get(), caPub) != 1) {
    ERR_clear_error();
    throw ConfigError(where + ": " + pem.certLabel + ": not signed by " + pem.caLabel +
                      " (a certificate of another cluster?)");
  }
}

std::shared_ptr<const rpc::Tls> load(const ClusterConfig& config, const std::string& section,
                                     const char* certKey, const std::string& cert,
                                     const char* keyKey, const std::string& key) {
  rpc::Tls::Pem pem;
  pem.ca = readPem(config, "cluster", "tls-ca", config.tls.ca);
  pem.cert = readPem(config, section, certKey, cert);
  pem.key = readPem(config, section, keyKey, key);
  pem.caLabel = "tls-ca = " + config.tls.ca;
  pem.certLabel = std::string(certKey) + " = " + cert;
  pem.keyLabel = std::string(keyKey) + " = " + key;
  checkPair(pem, config.path + ": " + section);
  try {
    return std::make_shared<const rpc::Tls>(pem);
  } catch (const rpc::TlsError& e) {
    throw ConfigError(config.path + ": " + section + ": " + e.what());
  }
}

}  // namespace

std::shared_ptr<const rpc::Tls> loadClientTls(const ClusterConfig& config) {
  return load(config, "cluster", "tls-cert", config.tls.cert, "tls-key", config.tls.key);
}

std::shared_ptr<const rpc::Tls> loadAdminTls(const ClusterConfig& config) {
  if (config.tls.adminCert.empty()) return loadClientTls(config);
  return load(config, "cluster", "tls-admin-cert", config.tls.adminCert, "tls-admin-key",
              config.tls.adminKey);
}

std::shared_ptr<const rpc::Tls> loadNodeTls(const ClusterConfig& config, const NodeInfo& node) {
  return load(config, "node." + node.name, "tls-cert", node.tlsCert, "tls-key", node.tlsKey);
}

}  // namespace pc::runtime
