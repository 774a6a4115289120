// SPDX-License-Identifier: GPL-2.0

//! Statics for C objects: writable ones ([`CStatic`]) for what the kernel
//! links into its own lists
//! (`genl_family`, `pernet_operations`, ...), read-only ones ([`CConst`])
//! for the tables it only reads.
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

/// A C table that the kernel only reads (`const struct ... *`), built at
/// compile time. The raw pointers in bindings types make them `!Sync`;
/// this wrapper says that sharing is fine because nothing ever writes it.
#[repr(transparent)]
pub(crate) struct CConst<T>(pub(crate) T);

// SAFETY: a `CConst` is immutable and its pointers lead only to other
// statics (functions, other tables) that live as long as the module.
unsafe impl<T> Sync for CConst<T> {}

impl<T> CConst<T> {
    pub(crate) const fn as_ptr(&self) -> *const T {
        &self.0
    }
}
