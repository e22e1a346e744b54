// SPDX-License-Identifier: GPL-2.0

//! Property test of the per-CPU array against a `Vec` model: random push/pop/drain sequences.

use crate::cmd_tests::Rng;
use crate::cpuarray::ObjArray;

#[test]
fn matches_a_vec_model() {
    let mut rng = Rng(42);
    for _ in 0..200 {
        let mut a = ObjArray::<16>::new();
        let mut model: Vec<usize> = Vec::new();
        let mut next = 1usize;
        for _ in 0..2000 {
            match rng.next() % 8 {
                0..=3 => {
                    let obj = next as *mut u8;
                    next += 1;
                    let r = a.push(obj);
                    if model.len() < 16 {
                        assert!(r.is_ok());
                        model.push(obj as usize);
                    } else {
                        assert_eq!(r, Err(obj));
                    }
                }
                4..=6 => assert_eq!(a.pop().map(|p| p as usize), model.pop()),
                _ => {
                    let n = (rng.next() % 20) as usize;
                    let mut got = vec![];
                    let removed = a.drain_oldest(n, |p| got.push(p as usize));
                    let want: Vec<usize> = model.drain(..n.min(model.len())).collect();
                    assert_eq!(removed, want.len());
                    assert_eq!(got, want);
                }
            }
            assert_eq!(a.len(), model.len());
            assert_eq!(
                a.as_slice().iter().map(|p| *p as usize).collect::<Vec<_>>(),
                model
            );
        }
    }
}
