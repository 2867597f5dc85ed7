# imgbatch: one image for the API (`serve --no-workers`) and the workers (`worker`).
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake nasm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin imgbatch

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --create-home imgbatch
COPY --from=build /src/target/release/imgbatch /usr/local/bin/imgbatch
USER imgbatch
WORKDIR /home/imgbatch
ENV IMGBATCH_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["imgbatch"]
CMD ["serve"]
