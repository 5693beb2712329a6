//! `bare-actix PORT WORKERS DELAY_MS`: GET / answers {"Hello":"World"} after DELAY_MS on the
//! runtime's timer. Nothing else: no logging, no middleware, actix-web's defaults.

use std::time::Duration;

use actix_web::{App, HttpServer, get, web};

#[derive(serde::Serialize)]
struct Greeting {
    #[serde(rename = "Hello")]
    hello: &'static str,
}

#[get("/")]
async fn root(delay: web::Data<Duration>) -> web::Json<Greeting> {
    if !delay.is_zero() {
        actix_rt::time::sleep(**delay).await;
    }
    web::Json(Greeting { hello: "World" })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| {
        args.get(i)
            .and_then(|a| a.parse::<u64>().ok())
            .expect("usage: bare-actix PORT WORKERS DELAY_MS")
    };
    let (port, workers, delay) = (
        arg(1) as u16,
        arg(2) as usize,
        Duration::from_millis(arg(3)),
    );
    HttpServer::new(move || App::new().app_data(web::Data::new(delay)).service(root))
        .workers(workers)
        .bind(("127.0.0.1", port))?
        .run()
        .await
}
