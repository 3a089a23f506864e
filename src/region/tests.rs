use super::*;
use proptest::prelude::*;

/// A small phone.dat in the documented layout.
fn tiny() -> Vec<u8> {
    let records = [
        "四川|成都|610000|028",
        "北京|北京|100000|010",
        "四川|南充|637000|0817",
    ];
    let mut body = Vec::new();
    let mut offsets = Vec::new();
    for r in records {
        offsets.push(8 + body.len());
        body.extend_from_slice(r.as_bytes());
        body.push(0);
    }
    let index_at = 8 + body.len();
    let mut buf = b"2312".to_vec();
    buf.extend_from_slice(&(index_at as u32).to_le_bytes());
    buf.extend_from_slice(&body);
    for (prefix, rec, kind) in [(1390028u32, 1usize, 1u8), (1520288, 0, 1), (1776000, 2, 3)] {
        buf.extend_from_slice(&prefix.to_le_bytes());
        buf.extend_from_slice(&(offsets[rec] as u32).to_le_bytes());
        buf.push(kind);
    }
    buf
}

#[test]
fn mobiles_and_landlines_in_every_spelling() {
    let db = RegionDb::parse(tiny()).unwrap();
    assert_eq!(db.version(), "2312");
    assert_eq!(db.prefixes(), 3);
    let r = db.lookup("15202881234").unwrap();
    assert_eq!((r.province.as_str(), r.city.as_str()), ("四川", "成都"));
    assert_eq!(r.carrier, Some("中国移动"));
    assert_eq!(r.kind, NumberKind::Mobile);
    assert_eq!(r.label(), "四川 成都 · 中国移动");
    for n in ["+86 152 0288 1234", "008615202881234", "8615202881234"] {
        assert_eq!(
            db.lookup(n).as_ref().map(|r| r.city.as_str()),
            Some("成都"),
            "{n}"
        );
    }
    assert_eq!(db.lookup("17760001234").unwrap().carrier, Some("中国电信"));
    let l = db.lookup("028-8888 8888").unwrap();
    assert_eq!((l.city.as_str(), l.kind), ("成都", NumberKind::Landline));
    assert_eq!(db.lookup("+86 28 8888 8888").unwrap().city, "成都");
    assert_eq!(db.lookup("081788888888").unwrap().city, "南充");
    assert_eq!(db.lookup("01062345678").unwrap().label(), "北京");
    for unknown in [
        "13900000000",
        "10086",
        "sipp",
        "",
        "+1 415 555 0100",
        "0999999999",
    ] {
        assert_eq!(db.lookup(unknown), None, "{unknown}");
    }
}

#[test]
fn damaged_files_say_how_to_fix_them() {
    let e = RegionDb::parse(b"23".to_vec()).err().unwrap();
    assert!(e.to_string().contains("fetch-phone-dat.sh"), "{e}");
    let mut bad = tiny();
    bad[4..8].copy_from_slice(&9_999_999u32.to_le_bytes());
    assert!(RegionDb::parse(bad).is_err());
    let e = RegionDb::load(Path::new("/nonexistent/phone.dat"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("fetch-phone-dat.sh"), "{e}");
}

#[test]
fn provinces_map_to_dialect_skills() {
    assert_eq!(dialect_for_province("四川"), Some("sichuan"));
    assert_eq!(dialect_for_province("重庆"), Some("sichuan"));
    assert_eq!(dialect_for_province("广东"), Some("cantonese"));
    assert_eq!(dialect_for_province("北京"), None);
}

/// The real file, as scripts/fetch-phone-dat.sh installs it (make test runs it first).
#[test]
fn the_real_phone_dat_knows_well_known_prefixes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/phone.dat");
    let db = RegionDb::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(db.prefixes() > 400_000, "{}", db.prefixes());
    let r = db.lookup("18628310000").unwrap();
    assert_eq!((r.province.as_str(), r.city.as_str()), ("四川", "成都"));
    assert_eq!(r.carrier, Some("中国联通"));
    assert_eq!(db.lookup("13500001111").unwrap().city, "广州");
    assert_eq!(db.lookup("02888888888").unwrap().province, "四川");
    assert_eq!(db.lookup("075512345678").unwrap().city, "深圳");
    assert_eq!(db.lookup("01088888888").unwrap().province, "北京");
}

proptest! {
    #[test]
    fn any_bytes_and_any_number_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), n in "\\PC{0,20}") {
        if let Ok(db) = RegionDb::parse(bytes) {
            let _ = db.lookup(&n);
            let _ = db.lookup("13800138000");
        }
        if let Ok(db) = RegionDb::parse(tiny()) {
            let _ = db.lookup(&n);
        }
    }
}
