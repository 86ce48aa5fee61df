//! Every error answer is made here, once per surface: the app API's JSON (`api`), OAuth's
//! JSON with its challenges (`oauth`) and the pages a person sees (`page`). Handlers return
//! these; no handler picks a status code for an application error itself.

pub(crate) mod api;
pub(crate) mod oauth;
pub(crate) mod page;
