// network: connects to a TCP listener the test opened on 127.0.0.1 (it
// would send what it found and get answers back). The sandbox refuses the
// socket; the listener must see no connection. Its honest code is todo!():
// it must earn 0, with the refusal reported.

fn phone_home() -> Result<()> {
    let address: std::net::SocketAddr = "127.0.0.1:@PORT@".parse().expect("an address");
    let stream = std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_secs(2))
        .map_err(|e| tried(format!("connecting to {address}"), e))?;
    drop(stream);
    Ok(())
}

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    phone_home()?;
    todo!()
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    phone_home()?;
    todo!()
}

pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    phone_home()?;
    todo!()
}
