//! Each op of an exercise declared once, for both sides of the wire.
//!
//! An exercise's ops live in `grader/adapters/NN-name/src/ops.rs`, one
//! declaration each:
//!
//! ```text
//! grader_kit::ops! {
//!     fn softmax(x: Tensor) -> (out: Tensor);
//!     fn scaled_dot_product_attention = "sdpa" (q: Tensor, k: Tensor, v: Tensor, scale: Option<f64>) -> (out: Tensor);
//! }
//! ```
//!
//! (`= "sdpa"` names the op on the wire and in the fixtures when it differs
//! from the function; `-> ()` declares an op without outputs.) From that
//! one declaration come:
//!
//! - `call::softmax(cx, &x) -> Result<Tensor, Failure>`: the judge's typed
//!   call of the student's code, through the adapter of the worker's
//!   [`Client`] `cx` ([`Client::call`]); `start::…` starts one in a process
//!   of its own ([`Client::start`]);
//! - `struct Student`, a function per op, and `serve(student)`, the
//!   adapter's whole `main`: it reads each argument, calls the op's
//!   function, sends the outputs back. The adapter fills the struct with
//!   closures that call the student's code; their argument types come from
//!   the declaration, so the adapter names each op once and types nothing:
//!
//!   ```text
//!   ops::serve(ops::Student {
//!       softmax: |x| Ok(ex::softmax(&x)?),
//!       scaled_dot_product_attention: |q, k, v, scale| Ok(ex::scaled_dot_product_attention(&q, &k, &v, scale)?),
//!   })
//!   ```
//! - `OPS`, every op's wire name, for `Fixtures::unknown_ops`.
//!
//! The judge compiles the adapter's `ops.rs` through `#[path]`, so the two
//! sides cannot disagree. An argument of type `Tensor` (or `Option<Tensor>`,
//! `Vec<Tensor>`, [`Weights`]) travels as input tensors, anything else as a
//! parameter; see [`Arg`] and [`Output`]. A struct of parameters (a model's
//! sizes, a training budget) is declared with [`params!`](macro@crate::params),
//! one parameter per field; an exercise's other argument types (a mask with
//! its kind) get an `impl Arg` beside the declaration, in terms of these.

use std::collections::HashMap;

/// What declarations and adapters name their tensors with.
pub use candle_core::Tensor;
use serde_json::{Map, Value};

use crate::adapter::Call;
use crate::client::{Client, Outputs};
use crate::failure::Failure;
use crate::inputs::Inputs;

/// The arguments of one call, as the judge assembles them.
#[derive(Default)]
pub struct Request {
    params: Map<String, Value>,
    inputs: Vec<(String, Tensor)>,
}

impl Request {
    fn refs(&self) -> Vec<(&str, &Tensor)> {
        self.inputs.iter().map(|(n, t)| (n.as_str(), t)).collect()
    }

    /// Calls `op` of the student's code through `client` (see [`Client::call`]).
    pub fn send(self, client: &Client, op: &str) -> Result<Outputs, Failure> {
        client.call(op, Value::Object(self.params.clone()), &self.refs())
    }

    /// Starts `op` in an adapter process of its own (see [`Client::start`]).
    pub fn start(self, client: &Client, op: &str) -> crate::client::Started {
        client.start(op, Value::Object(self.params.clone()), &self.refs())
    }
}

/// An op's argument: how the judge puts it in a request, and how the
/// adapter takes it out of a call.
pub trait Arg: Sized {
    /// What the judge's typed call takes (`&Tensor` for a tensor).
    type Ref<'a>;
    fn put(value: Self::Ref<'_>, name: &str, request: &mut Request);
    fn take(call: &Call, name: &str) -> Result<Self, Failure>;
}

/// How a [`params!`](macro@crate::params) struct hands one of its fields to
/// [`Arg::put`]: a copy of a number or a flag, a borrow of a text or a list.
pub trait Lend<'a, R> {
    fn lend(&'a self) -> R;
}

impl<T: Copy> Lend<'_, T> for T {
    fn lend(&self) -> T {
        *self
    }
}

impl Arg for Tensor {
    type Ref<'a> = &'a Tensor;
    fn put(value: &Tensor, name: &str, request: &mut Request) {
        request.inputs.push((name.to_string(), value.clone()));
    }
    fn take(call: &Call, name: &str) -> Result<Self, Failure> {
        call.input(name)
    }
}

impl Arg for Option<Tensor> {
    type Ref<'a> = Option<&'a Tensor>;
    fn put(value: Option<&Tensor>, name: &str, request: &mut Request) {
        if let Some(value) = value {
            Tensor::put(value, name, request);
        }
    }
    fn take(call: &Call, name: &str) -> Result<Self, Failure> {
        call.optional_input(name)
    }
}

/// A list of tensors (one per run, say): the inputs `<name>0`, `<name>1`, …
/// (as [`Output`] sends a list).
impl Arg for Vec<Tensor> {
    type Ref<'a> = &'a [Tensor];
    fn put(value: &[Tensor], name: &str, request: &mut Request) {
        for (i, t) in value.iter().enumerate() {
            Tensor::put(t, &format!("{name}{i}"), request);
        }
    }
    fn take(call: &Call, name: &str) -> Result<Self, Failure> {
        let mut all = Vec::new();
        while let Some(t) = call.optional_input(&format!("{name}{}", all.len()))? {
            all.push(t);
        }
        Ok(all)
    }
}

/// A module's parameters by their PyTorch names (`out_proj.weight`, …),
/// sent as the inputs `<name>__<key>` (see [`Inputs::parameters`]).
#[derive(Debug, Clone, Default)]
pub struct Weights(pub HashMap<String, Tensor>);

impl Weights {
    /// A candle `VarBuilder` over them, for a layer's `new(vb)`.
    pub fn var_builder(&self) -> candle_nn::VarBuilder<'static> {
        candle_nn::VarBuilder::from_tensors(
            self.0.clone(),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
    }
}

/// Random parameters for a property check, by name: each entry of `specs`
/// a (name, shape) drawn from N(0, scale²), in the order of `specs`. The
/// judge keeps them to send them with every call (and to compute what the
/// module must give).
pub fn random_weights(
    rng: &mut impl rand::Rng,
    specs: &[(impl AsRef<str>, Vec<usize>)],
    scale: f64,
) -> Result<HashMap<String, Tensor>, Failure> {
    let mut weights = HashMap::new();
    for (name, shape) in specs {
        let tensor = (crate::random::randn(rng, shape) * scale)?;
        weights.insert(name.as_ref().to_string(), tensor);
    }
    Ok(weights)
}

impl Arg for Weights {
    type Ref<'a> = &'a HashMap<String, Tensor>;
    fn put(value: &HashMap<String, Tensor>, name: &str, request: &mut Request) {
        request.inputs.extend(crate::inputs::as_inputs(name, value));
    }
    fn take(call: &Call, name: &str) -> Result<Self, Failure> {
        call.parameters(name).map(Weights)
    }
}

/// Parameters a call may leave out (a module of none, say a stack of no
/// layers, or one loaded from elsewhere): `None` when no input is named
/// `<name>__…`.
impl Arg for Option<Weights> {
    type Ref<'a> = Option<&'a HashMap<String, Tensor>>;
    fn put(value: Option<&HashMap<String, Tensor>>, name: &str, request: &mut Request) {
        if let Some(value) = value {
            Weights::put(value, name, request);
        }
    }
    fn take(call: &Call, name: &str) -> Result<Self, Failure> {
        let prefix = format!("{name}__");
        if call.input_names().iter().any(|n| n.starts_with(&prefix)) {
            Weights::take(call, name).map(Some)
        } else {
            Ok(None)
        }
    }
}

fn missing(call: &Call, name: &str) -> Failure {
    Failure::fixture(format!("op {} needs the parameter {name:?}", call.op))
}

/// Parameters passed by value: the judge sends them as JSON.
macro_rules! by_value {
    ($($ty:ty),*) => {$(
        impl Arg for $ty {
            type Ref<'a> = $ty;
            fn put(value: $ty, name: &str, request: &mut Request) {
                request.params.insert(name.to_string(), serde_json::json!(value));
            }
            fn take(call: &Call, name: &str) -> Result<Self, Failure> {
                call.params.value::<$ty>(name)?.ok_or_else(|| missing(call, name))
            }
        }
        impl Arg for Option<$ty> {
            type Ref<'a> = Option<$ty>;
            fn put(value: Option<$ty>, name: &str, request: &mut Request) {
                request.params.insert(name.to_string(), serde_json::json!(value));
            }
            fn take(call: &Call, name: &str) -> Result<Self, Failure> {
                call.params.value::<$ty>(name)
            }
        }
    )*};
}
// A pair (tile sizes, say) is `[a, b]` on the wire.
by_value!(f64, f32, usize, u32, u64, i64, (usize, usize));

/// A flag: absent means false, as fixture cases leave it out.
impl Arg for bool {
    type Ref<'a> = bool;
    fn put(value: bool, name: &str, request: &mut Request) {
        request.params.insert(name.to_string(), Value::Bool(value));
    }
    fn take(call: &Call, name: &str) -> Result<Self, Failure> {
        call.params.bool(name)
    }
}

/// Parameters passed by reference (a string, a list): sent as JSON.
macro_rules! by_ref {
    ($($ty:ty => $r:ty),*) => {$(
        impl Arg for $ty {
            type Ref<'a> = &'a $r;
            fn put(value: &$r, name: &str, request: &mut Request) {
                request.params.insert(name.to_string(), serde_json::json!(value));
            }
            fn take(call: &Call, name: &str) -> Result<Self, Failure> {
                call.params.value::<$ty>(name)?.ok_or_else(|| missing(call, name))
            }
        }
        impl Arg for Option<$ty> {
            type Ref<'a> = Option<&'a $r>;
            fn put(value: Option<&$r>, name: &str, request: &mut Request) {
                request.params.insert(name.to_string(), serde_json::json!(value));
            }
            fn take(call: &Call, name: &str) -> Result<Self, Failure> {
                call.params.value::<$ty>(name)
            }
        }
        impl<'a> Lend<'a, &'a $r> for $ty {
            fn lend(&'a self) -> &'a $r {
                self
            }
        }
        impl<'a> Lend<'a, Option<&'a $r>> for Option<$ty> {
            fn lend(&'a self) -> Option<&'a $r> {
                self.as_ref().map(<$ty as Lend<'a, &'a $r>>::lend)
            }
        }
    )*};
}
by_ref!(
    String => str,
    Vec<usize> => [usize],
    Vec<u32> => [u32],
    Vec<f64> => [f64],
    Vec<String> => [String],
    Vec<Vec<u32>> => [Vec<u32>],
    Value => Value
);

/// A path (a checkpoint's folder): a string parameter, as `display` writes it.
impl Arg for std::path::PathBuf {
    type Ref<'a> = &'a std::path::Path;
    fn put(value: &std::path::Path, name: &str, request: &mut Request) {
        String::put(&value.display().to_string(), name, request);
    }
    fn take(call: &Call, name: &str) -> Result<Self, Failure> {
        String::take(call, name).map(Self::from)
    }
}

/// An op's output: how the adapter sends it, how the judge reads it.
pub trait Output: Sized {
    fn give(self, name: &str, outputs: &mut Vec<(String, Tensor)>) -> Result<(), Failure>;
    fn get(outputs: &Outputs, name: &str) -> Result<Self, Failure>;
}

impl Output for Tensor {
    fn give(self, name: &str, outputs: &mut Vec<(String, Tensor)>) -> Result<(), Failure> {
        outputs.push((name.to_string(), self));
        Ok(())
    }
    fn get(outputs: &Outputs, name: &str) -> Result<Self, Failure> {
        outputs.get(name)
    }
}

/// An output the student's code may leave out (PyTorch's `None`).
impl Output for Option<Tensor> {
    fn give(self, name: &str, outputs: &mut Vec<(String, Tensor)>) -> Result<(), Failure> {
        if let Some(t) = self {
            outputs.push((name.to_string(), t));
        }
        Ok(())
    }
    fn get(outputs: &Outputs, name: &str) -> Result<Self, Failure> {
        Ok(outputs.0.get(name).cloned())
    }
}

/// A list of tensors (one per layer, say): the outputs `<name>0`, `<name>1`, …,
/// as the fixture cases name them (`h0`, `k1`).
impl Output for Vec<Tensor> {
    fn give(self, name: &str, outputs: &mut Vec<(String, Tensor)>) -> Result<(), Failure> {
        for (i, t) in self.into_iter().enumerate() {
            outputs.push((format!("{name}{i}"), t));
        }
        Ok(())
    }
    fn get(outputs: &Outputs, name: &str) -> Result<Self, Failure> {
        Ok((0..)
            .map_while(|i| outputs.0.get(&format!("{name}{i}")).cloned())
            .collect())
    }
}

/// A text (a decoded continuation): its UTF-8 bytes, a u8 tensor, on the
/// wire, as the fixture cases hold texts.
impl Output for String {
    fn give(self, name: &str, outputs: &mut Vec<(String, Tensor)>) -> Result<(), Failure> {
        let len = self.len();
        let t = Tensor::from_vec(self.into_bytes(), len, &candle_core::Device::Cpu)?;
        outputs.push((name.to_string(), t));
        Ok(())
    }
    fn get(outputs: &Outputs, name: &str) -> Result<Self, Failure> {
        let bytes = outputs
            .get(name)?
            .flatten_all()
            .and_then(|t| t.to_dtype(candle_core::DType::U8))
            .and_then(|t| t.to_vec1::<u8>())
            .map_err(|e| Failure::new(format!("output `{name}` is not a text: {e}")))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Texts (one per row): the outputs `<name>0`, `<name>1`, … as [`String`]s.
impl Output for Vec<String> {
    fn give(self, name: &str, outputs: &mut Vec<(String, Tensor)>) -> Result<(), Failure> {
        for (i, text) in self.into_iter().enumerate() {
            text.give(&format!("{name}{i}"), outputs)?;
        }
        Ok(())
    }
    fn get(outputs: &Outputs, name: &str) -> Result<Self, Failure> {
        (0..)
            .map_while(|i| {
                let each = format!("{name}{i}");
                outputs
                    .0
                    .contains_key(&each)
                    .then(|| String::get(outputs, &each))
            })
            .collect()
    }
}

/// A number (a loss, an accuracy): a 0-d f64 tensor on the wire.
impl Output for f64 {
    fn give(self, name: &str, outputs: &mut Vec<(String, Tensor)>) -> Result<(), Failure> {
        let t = Tensor::new(self, &candle_core::Device::Cpu)?;
        outputs.push((name.to_string(), t));
        Ok(())
    }
    fn get(outputs: &Outputs, name: &str) -> Result<Self, Failure> {
        let t = outputs.get(name)?;
        let value = t
            .flatten_all()
            .and_then(|t| t.to_dtype(candle_core::DType::F64))
            .and_then(|t| t.to_vec1::<f64>())
            .map_err(|e| Failure::new(format!("output `{name}` is not a number: {e}")))?;
        match value.as_slice() {
            [one] => Ok(*one),
            _ => Err(Failure::new(format!(
                "output `{name}` should be one number, got {} values",
                value.len()
            ))),
        }
    }
}

/// A list of numbers (a loss per step, a class per sentence): a 1-d tensor
/// on the wire, of the list's dtype.
macro_rules! number_list {
    ($($ty:ty => $dtype:ident),*) => {$(
        impl Output for Vec<$ty> {
            fn give(self, name: &str, outputs: &mut Vec<(String, Tensor)>) -> Result<(), Failure> {
                let t = Tensor::new(self.as_slice(), &candle_core::Device::Cpu)?;
                outputs.push((name.to_string(), t));
                Ok(())
            }
            fn get(outputs: &Outputs, name: &str) -> Result<Self, Failure> {
                outputs
                    .get(name)?
                    .flatten_all()
                    .and_then(|t| t.to_dtype(candle_core::DType::$dtype))
                    .and_then(|t| t.to_vec1::<$ty>())
                    .map_err(|e| Failure::new(format!("output `{name}` is not a list of numbers: {e}")))
            }
        }
    )*};
}
number_list!(f32 => F32, f64 => F64, u32 => U32);

/// A call started with `start::…`: [`Pending::finish`] waits for its typed
/// outputs; dropping it unfinished ends its process.
pub struct Pending<T> {
    started: crate::client::Started,
    read: fn(&Outputs) -> Result<T, Failure>,
}

impl<T> Pending<T> {
    pub fn new(started: crate::client::Started, read: fn(&Outputs) -> Result<T, Failure>) -> Self {
        Pending { started, read }
    }

    pub fn finish(self) -> Result<T, Failure> {
        (self.read)(&self.started.finish()?)
    }
}

/// Declares an exercise's ops once: see the [module documentation](self).
#[macro_export]
macro_rules! ops {
    ($(
        $(#[$meta:meta])*
        fn $name:ident $(= $wire:literal)? ( $($arg:ident : $ty:ty),* $(,)? )
            -> ( $($out:ident : $oty:ty),* $(,)? );
    )*) => {
        /// The judge's side: each op as a typed call of the student's code,
        /// through the adapter.
        #[allow(
            dead_code,
            unused_parens,
            unused_variables,
            clippy::too_many_arguments,
            clippy::type_complexity,
            clippy::needless_question_mark
        )]
        pub mod call {
            use super::*;
            $(
                $(#[$meta])*
                pub fn $name(
                    cx: &$crate::client::Client,
                    $($arg: <$ty as $crate::ops::Arg>::Ref<'_>),*
                ) -> ::std::result::Result<( $($oty),* ), $crate::Failure> {
                    #[allow(unused_mut)]
                    let mut request = $crate::ops::Request::default();
                    $( <$ty as $crate::ops::Arg>::put($arg, stringify!($arg), &mut request); )*
                    let outputs = request.send(cx, $crate::__op_name!($name $(, $wire)?))?;
                    Ok(( $( <$oty as $crate::ops::Output>::get(&outputs, stringify!($out))? ),* ))
                }
            )*
        }

        /// The judge's side, for a long call (a training): each op started
        /// in an adapter process of its own, finished later.
        #[allow(
            dead_code,
            unused_parens,
            unused_variables,
            clippy::too_many_arguments,
            clippy::type_complexity,
            clippy::needless_question_mark
        )]
        pub mod start {
            use super::*;
            $(
                pub fn $name(
                    cx: &$crate::client::Client,
                    $($arg: <$ty as $crate::ops::Arg>::Ref<'_>),*
                ) -> $crate::ops::Pending<( $($oty),* )> {
                    #[allow(unused_mut)]
                    let mut request = $crate::ops::Request::default();
                    $( <$ty as $crate::ops::Arg>::put($arg, stringify!($arg), &mut request); )*
                    $crate::ops::Pending::new(
                        request.start(cx, $crate::__op_name!($name $(, $wire)?)),
                        |outputs| Ok(( $( <$oty as $crate::ops::Output>::get(outputs, stringify!($out))? ),* )),
                    )
                }
            )*
        }

        /// The adapter's side: what each op calls in the student's code, a
        /// function per op that takes the declared arguments in order (the
        /// adapter writes closures: their types come from here).
        #[allow(dead_code, unused_parens, clippy::type_complexity)]
        pub struct Student {
            $(
                $(#[$meta])*
                pub $name: fn($($ty),*) -> ::std::result::Result<( $($oty),* ), $crate::Failure>,
            )*
        }

        /// The adapter's whole `main`: serves every op with `student`.
        #[allow(dead_code, unused_parens)]
        pub fn serve(student: Student) -> ! {
            $crate::adapter::serve(move |call| match call.op.as_str() {
                $(
                    $crate::__op_name!($name $(, $wire)?) => {
                        let ( $($out),* ) = (student.$name)(
                            $( <$ty as $crate::ops::Arg>::take(call, stringify!($arg))? ),*
                        )?;
                        #[allow(unused_mut)]
                        let mut outputs = Vec::new();
                        $( $crate::ops::Output::give($out, stringify!($out), &mut outputs)?; )*
                        Ok(outputs)
                    }
                )*
                _ => $crate::adapter::unknown_op(call),
            })
        }

        /// Every op's name on the wire (and in the fixtures).
        #[allow(dead_code)]
        pub const OPS: &[&str] = &[ $( $crate::__op_name!($name $(, $wire)?) ),* ];
    };
}

/// Declares a struct of parameters that travels as one parameter per field,
/// named as the field (a model's sizes, a training budget), with its
/// [`Arg`]; a field with `= default` may be absent from a call:
///
/// ```text
/// grader_kit::params! {
///     /// The training budget.
///     pub struct Budget { pub steps: usize, pub learning_rate: f64 = 1e-3 }
/// }
/// ```
///
/// Fields are parameters: numbers, flags, texts, lists and their `Option`s,
/// or an exercise's own `Copy` type whose `Ref` is itself (see [`Lend`]).
/// The struct is passed by reference; it derives `Debug`, `Clone` and
/// `PartialEq`, and `#[derive(Copy)]` above it adds `Copy` where every
/// field is.
#[macro_export]
macro_rules! params {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty $(= $default:expr)? ),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }

        impl $crate::ops::Arg for $name {
            type Ref<'a> = &'a $name;
            fn put(value: &$name, _: &str, request: &mut $crate::ops::Request) {
                $(
                    let field = $crate::ops::Lend::lend(&value.$field);
                    <$ty as $crate::ops::Arg>::put(field, stringify!($field), request);
                )*
            }
            fn take(
                call: &$crate::adapter::Call,
                _: &str,
            ) -> ::std::result::Result<Self, $crate::Failure> {
                Ok($name {
                    $( $field: $crate::__param_take!(call, $field, $ty $(, $default)?), )*
                })
            }
        }
    )*};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __param_take {
    ($call:ident, $field:ident, $ty:ty) => {
        <$ty as $crate::ops::Arg>::take($call, stringify!($field))?
    };
    ($call:ident, $field:ident, $ty:ty, $default:expr) => {
        <Option<$ty> as $crate::ops::Arg>::take($call, stringify!($field))?.unwrap_or($default)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __op_name {
    ($name:ident) => {
        stringify!($name)
    };
    ($name:ident, $wire:literal) => {
        $wire
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    crate::params! {
        /// A budget with one field that may be absent.
        pub struct Budget {
            pub steps: usize,
            pub top_k: Option<usize>,
            pub rate: f64 = 0.5,
        }

        /// Texts and lists travel as they are, borrowed.
        pub struct Streams {
            pub names: Vec<String>,
            pub label: Option<String>,
            pub sizes: Vec<usize> = vec![],
        }
    }

    /// What the adapter receives for `request`.
    fn received(request: Request) -> Call {
        let inputs = request.inputs.into_iter().collect();
        Call::new("op", crate::params::Params(request.params), inputs)
    }

    #[test]
    fn a_params_struct_travels_field_by_field_with_its_defaults() {
        let budget = Budget {
            steps: 3,
            top_k: None,
            rate: 0.25,
        };
        let mut request = Request::default();
        Budget::put(&budget, "budget", &mut request);
        assert_eq!(request.params["steps"], 3);
        assert_eq!(Budget::take(&received(request), "budget").unwrap(), budget);

        let mut request = Request::default();
        usize::put(7, "steps", &mut request);
        let taken = Budget::take(&received(request), "budget").unwrap();
        assert_eq!((taken.steps, taken.top_k, taken.rate), (7, None, 0.5));

        let error = Budget::take(&received(Request::default()), "budget").unwrap_err();
        assert!(error.message.contains("\"steps\""), "{}", error.message);
    }

    #[test]
    fn a_params_struct_lends_its_texts_and_lists() {
        let streams = Streams {
            names: vec!["a".into(), "b é".into()],
            label: Some("run".into()),
            sizes: vec![2, 3],
        };
        let mut request = Request::default();
        Streams::put(&streams, "streams", &mut request);
        assert_eq!(request.params["names"], serde_json::json!(["a", "b é"]));
        assert_eq!(request.params["label"], "run");
        assert_eq!(Streams::take(&received(request), "s").unwrap(), streams);

        let mut request = Request::default();
        <Vec<String>>::put(&[], "names", &mut request);
        <Option<String>>::put(None, "label", &mut request);
        let taken = Streams::take(&received(request), "s").unwrap();
        assert_eq!(
            (taken.names.len(), taken.label, taken.sizes.len()),
            (0, None, 0)
        );
    }

    #[test]
    fn lists_and_texts_are_numbered_outputs() {
        let ones = |n: usize| Tensor::ones(n, candle_core::DType::F32, &Device::Cpu).unwrap();
        let mut sent = Vec::new();
        vec![ones(1), ones(2)].give("h", &mut sent).unwrap();
        vec!["a é".to_string(), String::new()]
            .give("text", &mut sent)
            .unwrap();
        let names: Vec<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["h0", "h1", "text0", "text1"]);

        let outputs = Outputs(sent.into_iter().collect());
        let h = <Vec<Tensor>>::get(&outputs, "h").unwrap();
        assert_eq!(h.iter().map(|t| t.elem_count()).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(<Vec<String>>::get(&outputs, "text").unwrap(), ["a é", ""]);
        assert!(<Vec<Tensor>>::get(&outputs, "k").unwrap().is_empty());
    }

    #[test]
    fn a_list_of_tensors_is_taken_back_in_order() {
        let t = |x: f32| Tensor::new(&[x], &Device::Cpu).unwrap();
        let mut request = Request::default();
        <Vec<Tensor>>::put(&[t(1.0), t(2.0), t(3.0)], "x", &mut request);
        let taken = <Vec<Tensor>>::take(&received(request), "x").unwrap();
        let values: Vec<f32> = taken
            .iter()
            .map(|t| t.to_vec1::<f32>().unwrap()[0])
            .collect();
        assert_eq!(values, [1.0, 2.0, 3.0]);
    }
}
