//! Unit tests of `qdrant_server.rs` (kept apart so the module reads as one idea).

use super::*;

fn t(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

#[test]
fn point_ids_are_stable_and_distinct() {
    let (a, b) = (t("t_a"), t("t_b"));
    let id = point_id(&a, "p1", "red");
    assert_eq!(id, point_id(&a, "p1", "red"), "the same group gets the same id");
    uuid::Uuid::parse_str(&id).expect("a UUID the server accepts");
    let others = [
        point_id(&b, "p1", "red"),
        point_id(&a, "p2", "red"),
        point_id(&a, "p1", "blue"),
        point_id(&a, "p1", ""),
        point_id(&a, "p1r", "ed"),
        point_id(&a, "p", "1red"),
    ];
    for (i, other) in others.iter().enumerate() {
        assert_ne!(&id, other, "case {i}");
    }
    let mut all: Vec<&String> = others.iter().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), others.len());
    // Fixed forever: a change would orphan every point already on a server.
    assert_eq!(point_id(&a, "p1", ""), point_id(&a, "p1", ""));
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 8);
}

fn conditions(f: &Filter) -> Vec<String> {
    f.must.iter().map(|c| format!("{c:?}")).collect()
}

fn field_match(c: &Condition) -> Option<(String, MatchValue)> {
    use qdrant_client::qdrant::condition::ConditionOneOf;
    match c.condition_one_of.as_ref()? {
        ConditionOneOf::Field(f) => Some((f.key.clone(), f.r#match.clone()?.match_value?)),
        _ => None,
    }
}

fn field_range(c: &Condition) -> Option<(String, Range)> {
    use qdrant_client::qdrant::condition::ConditionOneOf;
    match c.condition_one_of.as_ref()? {
        ConditionOneOf::Field(f) => Some((f.key.clone(), f.range?)),
        _ => None,
    }
}

#[test]
fn every_filter_starts_with_the_tenant() {
    let tenant = t("t_shop");
    let want = Some(("tenant_id".to_string(), MatchValue::Keyword("t_shop".into())));
    for f in [
        VectorFilter::default(),
        VectorFilter { product_ids: Some(vec!["p_other_tenant".into()]), ..Default::default() },
        VectorFilter { in_stock_only: true, category_prefix: Some("men".into()), ..Default::default() },
    ] {
        let q = filter(&tenant, &f);
        assert_eq!(field_match(&q.must[0]), want, "{:?}", conditions(&q));
        assert!(q.should.is_empty() && q.must_not.is_empty(), "only AND: nothing may widen the tenant condition");
    }
    assert_eq!(field_match(&tenant_filter(&tenant).must[0]), want);
    assert_eq!(filter(&tenant, &VectorFilter::default()).must.len(), 1);
}

#[test]
fn filters_translate_like_the_edge_adapter() {
    let f = VectorFilter {
        min_price_minor: Some(1500),
        max_price_minor: Some(6000),
        category_prefix: Some("  Women/JACK ".into()),
        options: vec![("Colour".into(), "Navy Blue".into()), ("size".into(), "M".into())],
        in_stock_only: true,
        product_ids: Some(vec!["p1".into(), "p2".into()]),
    };
    let q = filter(&t("t_x"), &f);
    assert_eq!(q.must.len(), 8, "{:?}", conditions(&q));
    // The group's range meets the wanted one: its max at least the min, its min at
    // most the max.
    assert_eq!(field_range(&q.must[1]), Some(("price_max".into(), Range { gte: Some(1500.0), ..Default::default() })));
    assert_eq!(field_range(&q.must[2]), Some(("price_min".into(), Range { lte: Some(6000.0), ..Default::default() })));
    assert_eq!(field_match(&q.must[3]), Some(("category".into(), MatchValue::Keyword("women/jack".into()))));
    // A value with a space stays an exact keyword (not a full-text match).
    assert_eq!(field_match(&q.must[4]), Some(("options".into(), MatchValue::Keyword("color=navy blue".into()))));
    assert_eq!(field_match(&q.must[5]), Some(("options".into(), MatchValue::Keyword("size=m".into()))));
    assert_eq!(field_match(&q.must[6]), Some(("in_stock".into(), MatchValue::Boolean(true))));
    let ids = MatchValue::Keywords(qdrant_client::qdrant::RepeatedStrings { strings: vec!["p1".into(), "p2".into()] });
    assert_eq!(field_match(&q.must[7]), Some(("product_id".into(), ids)));
    // A blank category is no condition.
    let blank = VectorFilter { category_prefix: Some("  ".into()), ..Default::default() };
    assert_eq!(filter(&t("t_x"), &blank).must.len(), 1);
}

#[test]
fn bm25_vectors_are_the_edge_adapters() {
    let bm25 = bm25_model().unwrap();
    let (indices, values) = document_vector(&bm25, "Waterproof jackets, the jacket for rain");
    assert_eq!(indices.len(), values.len());
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "sorted, distinct token ids: {indices:?}");
    assert!(values.iter().all(|v| *v > 0.0));
    // The very vector qdrant-edge stores for the same text.
    let edge = EdgeBm25::new(EdgeBm25Config::default()).unwrap().embed_document("Waterproof jackets, the jacket for rain");
    assert_eq!((indices.clone(), values.clone()), (edge.indices, edge.values));
    // Stemming: "jackets" and "jacket" are one term, counted twice; stop words
    // ("the", "for") are dropped.
    let (q_idx, q_val) = query_vector(&bm25, "jacket");
    assert_eq!(q_val, [1.0]);
    let pos = indices.iter().position(|i| *i == q_idx[0]).expect("the query's term is in the document");
    let (one_idx, one_val) = document_vector(&bm25, "Waterproof jacket for rain");
    let once = one_val[one_idx.iter().position(|i| *i == q_idx[0]).unwrap()];
    assert!(values[pos] > once, "two occurrences weigh more than one: {} vs {once}", values[pos]);
    assert_eq!(indices.len(), 3, "waterproof, jacket, rain: {indices:?}");
    assert_eq!(query_vector(&bm25, "the for and").0, Vec::<u32>::new(), "stop words only: no term");
    assert_eq!(query_vector(&bm25, "jackets jacket").0, q_idx, "a query term counts once");
}

fn unit(dim: usize) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    v[0] = 1.0;
    v
}

fn tenant_first(f: &Option<Filter>) -> Option<(String, MatchValue)> {
    field_match(f.as_ref()?.must.first()?)
}

#[test]
fn hybrid_queries_filter_both_prefetches_and_fuse_by_rrf() {
    let (options, bm25, tenant) = (ServerOptions::default(), bm25_model().unwrap(), t("t_a"));
    let want = Some(("tenant_id".to_string(), MatchValue::Keyword("t_a".into())));
    let mut q = VectorQuery { dense: unit(4), text: "red jackets".into(), mode: QueryMode::Hybrid, limit: 5, ..Default::default() };
    q.filter.product_ids = Some(vec!["p_of_b".into()]);
    let r = query_request(&options, 4, &bm25, &tenant, &q, 15).unwrap().expect("a request");
    assert_eq!(r.collection_name, DEFAULT_COLLECTION);
    assert_eq!(r.limit, Some(15));
    assert_eq!(tenant_first(&r.filter), want);
    assert_eq!(r.prefetch.len(), 2);
    for (p, using) in r.prefetch.iter().zip([DENSE, SPARSE]) {
        assert_eq!(p.using.as_deref(), Some(using));
        assert_eq!(p.filter, r.filter, "{using}: the prefetch has the whole filter");
        assert_eq!(tenant_first(&p.filter), want);
        assert_eq!(p.limit, Some(PREFETCH as u64));
        // The dense search breadth is the edge adapter's; BM25 has none.
        let ef = p.params.as_ref().and_then(|s| s.hnsw_ef);
        assert_eq!(ef, (using == DENSE).then_some(crate::qdrant_edge::HNSW_EF as u64), "{using}");
    }
    let rrf = Query::new_rrf(Rrf { k: Some(crate::qdrant_edge::RRF_K as u32), weights: vec![] });
    assert_eq!(r.query, Some(rrf), "RRF with the edge adapter's k");
    // Deeper than the prefetch default: the prefetches follow.
    let deep = query_request(&options, 4, &bm25, &tenant, &q, 300).unwrap().unwrap();
    assert!(deep.prefetch.iter().all(|p| p.limit == Some(300)));

    // No known word: the dense prefetch alone; keyword mode finds nothing.
    q.text = "the and of".into();
    assert_eq!(query_request(&options, 4, &bm25, &tenant, &q, 15).unwrap().unwrap().prefetch.len(), 1);
    q.mode = QueryMode::Keyword;
    assert_eq!(query_request(&options, 4, &bm25, &tenant, &q, 15).unwrap(), None);
    // Keyword mode ignores the dense vector; dense mode checks its length.
    q.text = "jacket".into();
    q.dense = vec![];
    let keyword = query_request(&options, 4, &bm25, &tenant, &q, 15).unwrap().unwrap();
    assert_eq!((keyword.using.as_deref(), keyword.prefetch.len()), (Some(SPARSE), 0));
    assert_eq!(tenant_first(&keyword.filter), want);
    q.mode = QueryMode::Dense;
    let err = query_request(&options, 4, &bm25, &tenant, &q, 15).unwrap_err();
    assert!(matches!(err, VectorError::Dimension { expected: 4, got: 0 }), "{err:?}");
    q.dense = unit(4);
    let dense = query_request(&options, 4, &bm25, &tenant, &q, 15).unwrap().unwrap();
    assert_eq!((dense.using.as_deref(), tenant_first(&dense.filter)), (Some(DENSE), want));
    assert_eq!(dense.params.and_then(|s| s.hnsw_ef), Some(crate::qdrant_edge::HNSW_EF as u64));
    assert_eq!(keyword.params, None);
}

#[test]
fn points_carry_their_tenant_and_facets() {
    use crate::ports::vectors::Facets;
    let bm25 = bm25_model().unwrap();
    let tenant = t("t_a");
    let p = ProductPoint {
        product_id: "p1".into(),
        group: "navy".into(),
        dense: unit(4),
        text: "Navy hoodie".into(),
        facets: Facets {
            price_min_minor: 4500,
            price_max_minor: 5000,
            category: "Men/Tops".into(),
            options: vec![("Colour".into(), "Navy Blue".into())],
            in_stock: true,
        },
        catalog_version: 7,
    };
    let point = point_struct(4, &bm25, &tenant, &p).unwrap();
    assert_eq!(point.id, Some(point_id(&tenant, "p1", "navy").into()));
    let get = |k: &str| point.payload.get(k).cloned().unwrap_or_else(|| panic!("{k} missing")).kind.unwrap();
    assert_eq!(get("tenant_id"), Kind::StringValue("t_a".into()));
    assert_eq!(get("product_id"), Kind::StringValue("p1".into()));
    assert_eq!(get("group"), Kind::StringValue("navy".into()));
    assert_eq!(get("price_min"), Kind::IntegerValue(4500));
    assert_eq!(get("price_max"), Kind::IntegerValue(5000));
    assert_eq!(get("in_stock"), Kind::BoolValue(true));
    assert_eq!(get("catalog_version"), Kind::IntegerValue(7));
    let list = |k: &str| match get(k) {
        Kind::ListValue(l) => l.values.into_iter().filter_map(|v| match v.kind { Some(Kind::StringValue(s)) => Some(s), _ => None }).collect::<Vec<_>>(),
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!(list("category"), category_prefixes("Men/Tops"));
    assert_eq!(list("options"), ["color=navy blue"]);
    let err = point_struct(5, &bm25, &tenant, &p).unwrap_err();
    assert!(matches!(err, VectorError::Dimension { expected: 5, got: 4 }), "{err:?}");
}

#[tokio::test]
async fn a_closed_port_fails_quickly_and_clearly() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let options = ServerOptions { connect_timeout: Duration::from_secs(2), timeout: Duration::from_secs(2), ..Default::default() };
    let err = match QdrantServerStore::connect_with(&url, 8, options).await {
        Ok(_) => panic!("connected to a closed port"),
        Err(e) => e,
    };
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let message = err.to_string();
    assert!(matches!(err, VectorError::Backend(_)), "{err:?}");
    assert!(message.contains("cannot reach the Qdrant server") && message.contains(&url), "{message}");
}

#[tokio::test]
async fn a_bad_url_is_refused() {
    let err = QdrantServerStore::connect("not a url", 8).await.err().expect("refused");
    assert!(err.to_string().contains("not a url"), "{err}");
}
