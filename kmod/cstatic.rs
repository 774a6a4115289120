// SPDX-License-Identifier: GPL-2.0

//! Writable statics for C objects that the kernel links into its own lists
//! (`genl_family`, `pernet_operations`, ...).
//!
//! A plain `static` of a bindings type would land in `.rodata` and the
//! kernel's writes would fault; [`Opaque`] puts it in writable memory and
//! tells the compiler that C may change it behind our back.

use kernel::types::Opaque;

/// A C object with static storage, filled in at module init.
#[repr(transparent)]
pub(crate) struct CStatic<T>(Opaque<T>);

// SAFETY: the module writes a `CStatic` only during init, before handing it to
// the kernel, and the kernel serialises its own accesses (registration locks).
unsafe impl<T> Sync for CStatic<T> {}

impl<T> CStatic<T> {
    pub(crate) const fn uninit() -> Self {
        Self(Opaque::uninit())
    }

    /// Raw pointer to the object, for writing it at init and passing it to C.
    pub(crate) const fn get(&self) -> *mut T {
        self.0.get()
    }
}
