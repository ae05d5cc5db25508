//! Build script: gives the shared library an ELF soname.
//!
//! Without `DT_SONAME`, whatever links against `libmxclock.so` (a C
//! program, another native library of an app) records the path it was
//! linked with instead of the library's name, and Android's loader warns
//! about (and newer releases reject) libraries without one. Apple platforms
//! use install names instead, and Windows has no equivalent.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "android" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmxclock.so");
    }
}
