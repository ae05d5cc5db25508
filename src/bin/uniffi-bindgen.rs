//! The crate's own `uniffi-bindgen`, so the generator always matches the
//! uniffi version the library was built with.
fn main() {
    uniffi::uniffi_bindgen_main()
}
