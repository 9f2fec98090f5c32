//! `ItemReader` as AWS documents it, one test per documented rule; each quotes the rule from
//! AWS's Step Functions Developer Guide ("ItemReader (Map)", "How Step Functions parses input
//! CSV files", "Context object"). Where AWS leaves a behaviour undocumented (Parquet values
//! other than strings and numbers, nulls, a JSON object's key-value pairs), the test pins the
//! refusal that names what is missing.

use std::io::Write;
use std::sync::Arc;

use serde_json::{Value, json};

use super::distributed::{MemStore, diagnostics, get_object, machine, pass, read, reader, run};

/// Runs a reader over the objects of bucket `in` and returns the output or error and cause.
fn read_store(fields: Value, objects: &[(&str, &[u8])]) -> Result<Value, (String, String)> {
    let store = MemStore::with(objects);
    let r = run(&machine(fields, pass()), json!({}), &store);
    match r.outcome.output {
        Some(out) if r.outcome.error.is_none() => Ok(out),
        _ => Err((
            r.outcome.error.unwrap_or_default(),
            r.outcome.cause.unwrap_or_default(),
        )),
    }
}

fn distributed() -> Value {
    json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
}

fn config(resource: &str, params: Value, config: Value) -> Vec<String> {
    diagnostics(reader(resource, params, config), distributed())
}

fn get(config_fields: Value) -> Vec<String> {
    config(
        "getObject",
        json!({"Bucket": "in", "Key": "k"}),
        config_fields,
    )
}

fn list(config_fields: Value) -> Vec<String> {
    config(
        "listObjectsV2",
        json!({"Bucket": "in", "Prefix": "p/"}),
        config_fields,
    )
}

// ---- ManifestType ------------------------------------------------------------------------

fn inventory_store() -> MemStore {
    let manifest = json!({
        "sourceBucket": "src", "destinationBucket": "arn:aws:s3:::in", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data/a.csv", "size": 1, "MD5checksum": "x"}]
    });
    MemStore::with(&[
        ("inv/manifest.json", manifest.to_string().as_bytes()),
        ("inv/data/a.csv", b"\"src\",\"k1\",\"10\"\n"),
    ])
}

#[test]
fn manifest_type_s3_inventory_without_input_type_reads_the_inventory() {
    // "ManifestType ... If set to S3_INVENTORY, you must not also specify InputType because the
    // type is assumed to be CSV." (This form was refused before: InputType was required.)
    assert!(get(json!({"ManifestType": "S3_INVENTORY"})).is_empty());
    let fields = reader(
        "getObject",
        json!({"Bucket": "in", "Key": "inv/manifest.json"}),
        json!({"ManifestType": "S3_INVENTORY"}),
    );
    let r = run(&machine(fields, pass()), json!({}), &inventory_store());
    assert_eq!(
        r.outcome.output,
        Some(json!([{"Bucket": "src", "Key": "k1", "Size": "10"}]))
    );
}

#[test]
fn input_type_manifest_still_reads_an_s3_inventory() {
    // The documentation's own S3 inventory example: "ReaderConfig": {"InputType": "MANIFEST"}.
    assert!(get(json!({"InputType": "MANIFEST"})).is_empty());
    let fields = reader(
        "getObject",
        json!({"Bucket": "in", "Key": "inv/manifest.json"}),
        json!({"InputType": "MANIFEST"}),
    );
    let r = run(&machine(fields, pass()), json!({}), &inventory_store());
    assert_eq!(
        r.outcome.output,
        Some(json!([{"Bucket": "src", "Key": "k1", "Size": "10"}]))
    );
}

#[test]
fn s3_inventory_with_an_input_type_is_refused() {
    // "If you specify ManifestType is S3_INVENTORY then InputType cannot be specified."
    for input in ["MANIFEST", "CSV"] {
        assert_eq!(
            get(json!({"ManifestType": "S3_INVENTORY", "InputType": input})),
            [
                "/States/Map/ItemReader/ReaderConfig/InputType: InputType cannot be specified when ManifestType is S3_INVENTORY (the inventory's data files are read as CSV)"
            ]
        );
    }
}

#[test]
fn athena_data_needs_input_type_csv_jsonl_or_parquet() {
    // "You set ManifestType to ATHENA_DATA, and InputType to either CSV, JSONL, or Parquet."
    for input in ["CSV", "JSONL", "PARQUET"] {
        assert!(get(json!({"ManifestType": "ATHENA_DATA", "InputType": input})).is_empty());
    }
    assert_eq!(
        get(json!({"ManifestType": "ATHENA_DATA"})),
        [
            "/States/Map/ItemReader/ReaderConfig: These fields are required: [InputType] (CSV, JSONL or PARQUET) when ManifestType is ATHENA_DATA"
        ]
    );
    for input in ["JSON", "MANIFEST"] {
        assert_eq!(
            get(json!({"ManifestType": "ATHENA_DATA", "InputType": input})),
            [
                "/States/Map/ItemReader/ReaderConfig/InputType: InputType must be one of [CSV, JSONL, PARQUET] when ManifestType is ATHENA_DATA"
            ]
        );
    }
    assert_eq!(
        get(json!({"ManifestType": "ATHENA"})),
        [
            "/States/Map/ItemReader/ReaderConfig/ManifestType: Value \"ATHENA\" is not one of [ATHENA_DATA, S3_INVENTORY]"
        ]
    );
}

#[test]
fn a_manifest_is_read_with_get_object_only() {
    // Every manifest example in the documentation uses arn:aws:states:::s3:getObject.
    assert_eq!(
        list(json!({"ManifestType": "S3_INVENTORY"})),
        [
            "/States/Map/ItemReader/ReaderConfig/ManifestType: ManifestType is only supported when the ItemReader's Resource is s3:getObject"
        ]
    );
}

// ---- Transformation ------------------------------------------------------------------------

#[test]
fn load_and_flatten_needs_an_input_type_and_list_objects() {
    // "Transformation: Optional. Value will be either or NONE or LOAD_AND_FLATTEN. If not
    // specified, NONE will be assumed. When set to LOAD_AND_FLATTEN, you must also set
    // InputType."
    assert!(list(json!({"Transformation": "NONE"})).is_empty());
    for input in ["CSV", "JSON", "JSONL", "PARQUET"] {
        assert!(list(json!({"Transformation": "LOAD_AND_FLATTEN", "InputType": input})).is_empty());
    }
    assert_eq!(
        list(json!({"Transformation": "LOAD_AND_FLATTEN"})),
        [
            "/States/Map/ItemReader/ReaderConfig: These fields are required: [InputType] when Transformation is LOAD_AND_FLATTEN"
        ]
    );
    assert_eq!(
        list(json!({"Transformation": "LOAD_AND_FLATTEN", "InputType": "MANIFEST"})),
        [
            "/States/Map/ItemReader/ReaderConfig/InputType: InputType must be one of [CSV, JSON, JSONL, PARQUET] when Transformation is LOAD_AND_FLATTEN"
        ]
    );
    assert_eq!(
        list(json!({"InputType": "CSV"})),
        [
            "/States/Map/ItemReader/ReaderConfig/InputType: InputType is only supported with s3:listObjectsV2 when Transformation is LOAD_AND_FLATTEN"
        ]
    );
    assert_eq!(
        get(json!({"InputType": "CSV", "Transformation": "LOAD_AND_FLATTEN"})),
        [
            "/States/Map/ItemReader/ReaderConfig/Transformation: Transformation is only supported when the ItemReader's Resource is s3:listObjectsV2"
        ]
    );
    assert_eq!(
        list(json!({"Transformation": "FLATTEN"})),
        [
            "/States/Map/ItemReader/ReaderConfig/Transformation: Value \"FLATTEN\" is not one of [NONE, LOAD_AND_FLATTEN]"
        ]
    );
}

fn flatten(input_type: &str) -> Value {
    reader(
        "listObjectsV2",
        json!({"Bucket": "in", "Prefix": "logs/"}),
        json!({"InputType": input_type, "Transformation": "LOAD_AND_FLATTEN"}),
    )
}

#[test]
fn load_and_flatten_reads_the_rows_of_every_listed_object() {
    // "With the LOAD_AND_FLATTEN option, your state machine will do the following: Read the
    // actual content of each object listed by Amazon S3 ListObjectsV2 call. Parse the content
    // based on InputType (CSV, JSON, JSONL, Parquet). Create items from the file contents
    // (rows/records) rather than metadata."
    let objects: &[(&str, &[u8])] = &[
        ("logs/01.csv", b"h,n\na,1\nb,2\n"),
        ("logs/02.csv", b"h,n\nc,3\n"),
        ("other.csv", b"h,n\nz,9\n"),
    ];
    assert_eq!(
        read_store(flatten("CSV"), objects).unwrap(),
        json!([{"h": "a", "n": "1"}, {"h": "b", "n": "2"}, {"h": "c", "n": "3"}])
    );
    let objects: &[(&str, &[u8])] = &[("logs/a.json", b"[1, 2]"), ("logs/b.json", b"[3]")];
    assert_eq!(
        read_store(flatten("JSON"), objects).unwrap(),
        json!([1, 2, 3])
    );
    let objects: &[(&str, &[u8])] = &[
        ("logs/a.jsonl", b"{\"x\":1}\n"),
        ("logs/b.jsonl", b"oops\n"),
    ];
    let (error, cause) = read_store(flatten("JSONL"), objects).unwrap_err();
    assert_eq!(error, "States.ItemReaderFailed");
    assert!(
        cause.starts_with("line 1 of s3://in/logs/b.jsonl is not valid JSON"),
        "{cause}"
    );
}

// ---- Map.Item.Source -------------------------------------------------------------------------

fn with_source(mut fields: Value) -> Value {
    fields["ItemSelector"] = json!({"v.$": "$$.Map.Item.Value", "source.$": "$$.Map.Item.Source"});
    fields
}

#[test]
fn map_item_source_is_state_data_for_items_from_the_state_input() {
    // "Note that $states.context.Map.Item.Source will be one of the following: For state
    // input, the value will be : STATE_DATA" -- the documented example is an INLINE Map.
    let store = MemStore::default();
    let inline = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemSelector": {"source.$": "$$.Map.Item.Source"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true
    }}});
    let r = run(&inline, json!([1]), &store);
    assert_eq!(r.outcome.output, Some(json!([{"source": "STATE_DATA"}])));
    let jsonata = json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemSelector": {"source": "{% $states.context.Map.Item.Source %}"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true
    }}});
    let r = run(&jsonata, json!([1]), &store);
    assert_eq!(r.outcome.output, Some(json!([{"source": "STATE_DATA"}])));
    let r = run(&machine(with_source(json!({})), pass()), json!([1]), &store);
    assert_eq!(
        r.outcome.output,
        Some(json!([{"v": 1, "source": "STATE_DATA"}]))
    );
}

#[test]
fn map_item_source_is_the_bucket_for_a_listing_and_the_object_otherwise() {
    // "For Amazon S3 LIST_OBJECTS_V2 with Transformation=NONE, the value will show the S3 URI
    // for the bucket. For example: S3://bucket-name. For all the other input types, the value
    // will be the Amazon S3 URI. For example: S3://bucket-name/object-key."
    let listing = reader(
        "listObjectsV2",
        json!({"Bucket": "in", "Prefix": "logs/"}),
        json!({}),
    );
    let out = read_store(with_source(listing), &[("logs/a", b"x")]).unwrap();
    assert_eq!(out[0]["source"], json!("S3://in"));
    let out = read_store(with_source(get_object("JSON")), &[("data", b"[1]")]).unwrap();
    assert_eq!(out, json!([{"v": 1, "source": "S3://in/data"}]));
    let out = read_store(
        with_source(flatten("JSONL")),
        &[("logs/a.jsonl", b"1\n"), ("logs/b.jsonl", b"2\n")],
    )
    .unwrap();
    assert_eq!(
        out,
        json!([{"v": 1, "source": "S3://in/logs/a.jsonl"}, {"v": 2, "source": "S3://in/logs/b.jsonl"}])
    );
}

// ---- CSV parsing rules -----------------------------------------------------------------------

fn csv(data: &[u8]) -> Value {
    read(get_object("CSV"), data).unwrap()
}

#[test]
fn a_short_csv_row_gets_empty_strings_for_its_missing_values() {
    // "If the number of fields in a row is less than the number of fields in the header, Step
    // Functions provides empty strings for the missing values." (This failed the Map Run
    // before.)
    assert_eq!(
        csv(b"a,b,c\n1\n1,2\n"),
        json!([{"a": "1", "b": "", "c": ""}, {"a": "1", "b": "2", "c": ""}])
    );
}

#[test]
fn a_long_csv_row_has_its_additional_fields_skipped() {
    // "If the number of fields in a row is more than the number of fields in the header, Step
    // Functions skips the additional fields."
    assert_eq!(csv(b"a,b\n1,2,3,4\n"), json!([{"a": "1", "b": "2"}]));
}

#[test]
fn csv_quotes_enclose_delimiters_and_newlines_and_doubled_quotes_are_kept() {
    // "strings that are enclosed by double quotation marks can contain commas and newlines
    // without acting as record delimiters." "You can preserve double quotes by repeating them."
    assert_eq!(
        csv(b"a,b\n\"x,\ny\",\"say \"\"hi\"\"\"\n"),
        json!([{"a": "x,\ny", "b": "say \"hi\""}])
    );
}

#[test]
fn csv_backslashes_escape_backslashes_quotes_and_the_delimiter_and_vanish_elsewhere() {
    // "Backslashes only work with other backslashes, double quotation marks, and the configured
    // field separator such as comma or pipe. A backslash followed by any other character is
    // silently removed." "You can preserve backslashes by repeating them. For example:
    // path,size / C:\\Program Files\\MyApp.exe,6534512"
    assert_eq!(
        csv(b"path,size\nC:\\\\Program Files\\\\MyApp.exe,6534512\n"),
        json!([{"path": "C:\\Program Files\\MyApp.exe", "size": "6534512"}])
    );
    assert_eq!(
        csv(b"a,b\n1\\,5,\\\"q\\\"\n\\x\\y,\"in \\\" quotes\"\n"),
        json!([{"a": "1,5", "b": "\"q\""}, {"a": "xy", "b": "in \" quotes"}])
    );
    let pipe = reader(
        "getObject",
        json!({"Bucket": "in", "Key": "data"}),
        json!({"InputType": "CSV", "CSVDelimiter": "PIPE"}),
    );
    assert_eq!(
        read(pipe, b"a|b\n1\\|2|3\n").unwrap(),
        json!([{"a": "1|2", "b": "3"}])
    );
}

#[test]
fn the_documented_csv_example_reads_as_documented() {
    // "Example of parsing an input CSV file": the file, the state machine and (but for the
    // wording of MyString, which the page's output spells differently from its input) the
    // output the page shows.
    let file = b"abc,123,\"This string contains commas, a double quotation marks (\"\"), and a newline (\n)\",{\"\"MyKey\"\":\"\"MyValue\"\"},\"[1,2,3]\"";
    let mut fields = reader(
        "getObject",
        json!({"Bucket": "in", "Key": "data"}),
        json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["MyLetters", "MyNumbers", "MyString", "MyObject", "MyArray"]}),
    );
    fields["ItemSelector"] = json!({
        "MyLetters.$": "$$.Map.Item.Value.MyLetters",
        "MyNumbers.$": "States.StringToJson($$.Map.Item.Value.MyNumbers)",
        "MyString.$": "$$.Map.Item.Value.MyString",
        "MyObject.$": "States.StringToJson($$.Map.Item.Value.MyObject)",
        "MyArray.$": "States.StringToJson($$.Map.Item.Value.MyArray)"
    });
    assert_eq!(
        read(fields, file).unwrap(),
        json!([{
            "MyLetters": "abc",
            "MyNumbers": 123,
            "MyString": "This string contains commas, a double quotation marks (\"), and a newline (\n)",
            "MyObject": {"MyKey": "MyValue"},
            "MyArray": [1, 2, 3]
        }])
    );
}

#[test]
fn csv_records_end_at_any_newline_and_blank_lines_are_not_records() {
    // "Newlines are a delimiter that separates records."
    assert_eq!(csv(b"a\r\n1\r\n\r\n2\n\n"), json!([{"a": "1"}, {"a": "2"}]));
}

#[test]
fn a_csv_header_over_10_kib_fails_the_reader() {
    // "Currently, Step Functions supports CSV headers of up to 10 KiB" (CSVHeaderLocation, in
    // earlier versions of the page).
    let mut header = "c,".repeat(5 * 1024).into_bytes();
    header.extend_from_slice(b"last\n1\n");
    let (error, cause) = read(get_object("CSV"), &header).unwrap_err();
    assert_eq!(error, "States.ItemReaderFailed");
    assert_eq!(
        cause,
        "The CSV header at line 1 of s3://in/data is over 10240 bytes (10 KiB), the longest header AWS reads"
    );
    let mut fine = "c,".repeat(5 * 1024 - 1).into_bytes();
    fine.extend_from_slice(b"d\n");
    assert_eq!(read(get_object("CSV"), &fine).unwrap(), json!([]));
}

// ---- item size -------------------------------------------------------------------------------

#[test]
fn an_item_over_8_mib_fails_the_reader_whatever_the_text_format() {
    // "Step Functions supports reading an item of up to 8 MB from a text delimited file, JSON,
    // or JSON Lines file if you then apply the optional ItemSelector field to reduce the item's
    // size."
    let big = "x".repeat(8 * 1024 * 1024 + 1);
    let mut selector = get_object("CSV");
    selector["ItemSelector"] = json!({"n": 1});
    let (_, cause) = read(selector, format!("a\n{big}\n").as_bytes()).unwrap_err();
    assert_eq!(
        cause,
        "The CSV row at line 2 of s3://in/data is over 8388608 bytes (8 MiB), the largest item AWS reads from a file"
    );
    let (_, cause) = read(get_object("JSONL"), format!("1\n\"{big}\"\n").as_bytes()).unwrap_err();
    assert_eq!(
        cause,
        "line 2 of s3://in/data is over 8388608 bytes (8 MiB), the largest item AWS reads from a file"
    );
    let (_, cause) = read(get_object("JSON"), format!("[1, \"{big}\"]").as_bytes()).unwrap_err();
    assert_eq!(
        cause,
        "item 1 of s3://in/data is 8388611 bytes, over 8388608 bytes (8 MiB), the largest item AWS reads from a file"
    );
    // just under the limit is read (and ItemSelector makes the child's input small)
    let under = "y".repeat(8 * 1024 * 1024 - 2);
    let mut selector = get_object("JSONL");
    selector["ItemSelector"] = json!({"n": 1});
    assert_eq!(
        read(selector, format!("\"{under}\"\n").as_bytes()).unwrap(),
        json!([{"n": 1}])
    );
}

// ---- JSON and ItemsPointer -------------------------------------------------------------------

fn json_at(pointer: &str) -> Value {
    reader(
        "getObject",
        json!({"Bucket": "in", "Key": "data"}),
        json!({"InputType": "JSON", "ItemsPointer": pointer}),
    )
}

#[test]
fn items_pointer_selects_the_nested_array_of_a_json_file() {
    // "If the JSON file contains a nested object structure, you can select the specific node
    // with your data set with an ItemsPointer. For example, the following configuration would
    // extract a nested list of featured products in inventory: "ItemsPointer":
    // "/inventory/products/featured""
    let doc = br#"{"inventory": {"products": {"featured": [{"id": 1}, {"id": 2}], "other": []}}}"#;
    assert_eq!(
        read(json_at("/inventory/products/featured"), doc).unwrap(),
        json!([{"id": 1}, {"id": 2}])
    );
    let (error, cause) = read(json_at("/inventory/missing"), doc).unwrap_err();
    assert_eq!(error, "States.ItemReaderFailed");
    assert_eq!(
        cause,
        "ItemsPointer '/inventory/missing' points to nothing in s3://in/data; give the path of the array of items (for example /inventory/products)"
    );
}

#[test]
fn a_json_object_is_refused_because_its_key_value_items_are_undocumented() {
    // "The JSON file must contain an array or JSON object." AWS iterates an object's key-value
    // pairs, but shows no child input for a pair: refused, naming why.
    let (_, cause) = read(json_at("/inventory"), br#"{"inventory": {"a": 1}}"#).unwrap_err();
    assert_eq!(
        cause,
        "s3://in/data has at ItemsPointer '/inventory' a JSON object; AWS iterates over an object's key-value pairs but does not document the input each child gets, so the embedded engine reads JSON arrays only: point ItemsPointer at an array, or write the items as an array"
    );
}

#[test]
fn items_pointer_is_a_json_pointer_for_input_type_json() {
    assert!(get(json!({"InputType": "JSON", "ItemsPointer": "/a/0"})).is_empty());
    assert_eq!(
        get(json!({"InputType": "CSV", "ItemsPointer": "/a"})),
        [
            "/States/Map/ItemReader/ReaderConfig/ItemsPointer: ItemsPointer is only supported when InputType is JSON"
        ]
    );
    assert_eq!(
        get(json!({"InputType": "JSON", "ItemsPointer": "$.a"})),
        [
            "/States/Map/ItemReader/ReaderConfig/ItemsPointer: ItemsPointer '$.a' is not a JSON Pointer; write it as /key/key (for example /inventory/products), or leave it out to read the whole file"
        ]
    );
}

// ---- compression -----------------------------------------------------------------------------

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn object(key: &str, input_type: &str) -> Value {
    reader(
        "getObject",
        json!({"Bucket": "in", "Key": key}),
        json!({"InputType": input_type}),
    )
}

#[test]
fn input_files_named_gz_or_zstd_are_decompressed() {
    // "Input files support the following external compression types: GZIP, ZSTD. Example file
    // names: myObject.jsonl.gz and myObject.csv.zstd."
    let gz = gzip(b"{\"k\":1}\n{\"k\":2}\n");
    assert_eq!(
        read_store(
            object("myObject.jsonl.gz", "JSONL"),
            &[("myObject.jsonl.gz", &gz)]
        )
        .unwrap(),
        json!([{"k": 1}, {"k": 2}])
    );
    let zst = zstd::encode_all(&b"a,b\n1,2\n"[..], 3).unwrap();
    assert_eq!(
        read_store(
            object("myObject.csv.zstd", "CSV"),
            &[("myObject.csv.zstd", &zst)]
        )
        .unwrap(),
        json!([{"a": "1", "b": "2"}])
    );
}

#[test]
fn compressed_bytes_under_another_name_are_refused_with_the_name_to_give() {
    let gz = gzip(b"[1]");
    let (error, cause) =
        read_store(object("data.json", "JSON"), &[("data.json", &gz)]).unwrap_err();
    assert_eq!(error, "States.ItemReaderFailed");
    assert_eq!(
        cause,
        "s3://in/data.json holds GZIP-compressed bytes but its name does not end in .gz; AWS decides an input file's compression by its name (myObject.jsonl.gz, myObject.csv.zstd), so rename it with the .gz suffix"
    );
}

// ---- limits ----------------------------------------------------------------------------------

#[test]
fn max_items_is_at_most_100_000_000() {
    // "You can specify a limit of up to 100,000,000 after which the Distributed Map stops
    // reading items."
    assert!(get(json!({"InputType": "CSV", "MaxItems": 100_000_000})).is_empty());
    assert_eq!(
        get(json!({"InputType": "CSV", "MaxItems": 100_000_001})),
        [
            "/States/Map/ItemReader/ReaderConfig/MaxItems: MaxItems must be at most 100000000 but got 100000001"
        ]
    );
    // a MaxItemsPath is only known at run time
    let fields = reader(
        "getObject",
        json!({"Bucket": "in", "Key": "data"}),
        json!({"InputType": "JSON", "MaxItemsPath": "$.max"}),
    );
    let store = MemStore::with(&[("data", b"[1, 2, 3]")]);
    let r = run(&machine(fields.clone(), pass()), json!({"max": 2}), &store);
    assert_eq!(r.outcome.output, Some(json!([1, 2])));
    let r = run(
        &machine(fields, pass()),
        json!({"max": 100_000_001}),
        &store,
    );
    assert_eq!(r.outcome.error.as_deref(), Some("States.ItemReaderFailed"));
    assert_eq!(
        r.outcome.cause.as_deref(),
        Some(
            "MaxItems is 100000001, over 100000000, the most items AWS lets a Distributed Map read"
        )
    );
}

#[test]
fn listed_objects_carry_last_modified_as_epoch_seconds() {
    // The documented child input: {"Etag": "\"05704fbdccb224cb01c59005bebbad28\"", "Key":
    // "processData/images/n02085620_1073.jpg", "LastModified": 1668699881, "Size": 34910,
    // "StorageClass": "STANDARD"}
    let listing = reader(
        "listObjectsV2",
        json!({"Bucket": "in", "Prefix": ""}),
        json!({}),
    );
    let out = read_store(listing, &[("a", b"x")]).unwrap();
    // the in-memory store's objects were last modified at 2024-01-01T00:00:00.000Z
    assert_eq!(out[0]["LastModified"], json!(1_704_067_200));
}

// ---- Athena manifests ------------------------------------------------------------------------

fn athena(input_type: &str, extra: Value) -> Value {
    let mut config = json!({"ManifestType": "ATHENA_DATA", "InputType": input_type});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    with_source(reader(
        "getObject",
        json!({"Bucket": "in", "Key": "results/q1-manifest.csv"}),
        config,
    ))
}

#[test]
fn an_athena_manifest_yields_the_items_of_every_data_file_it_lists() {
    // "The manifest file provides a structured CSV list of the data files." "The feature can
    // process CSV, JSONL, and Parquet output formats from Athena." "The map context will also
    // include a $states.context.Map.Item.Source so you can customize processing based on the
    // source of the data."
    let manifest = b"s3://in/results/q1/a.gz\ns3://data/results/q1/b\n";
    let a = gzip(b"{\"n\":1}\n{\"n\":2}\n");
    let store = MemStore::with(&[
        ("results/q1-manifest.csv", manifest),
        ("results/q1/a.gz", &a),
    ]);
    store.put_in("data", "results/q1/b", b"{\"n\":3}\n");
    let r = run(
        &machine(athena("JSONL", json!({})), pass()),
        json!({}),
        &store,
    );
    assert_eq!(
        r.outcome.output,
        Some(json!([
            {"v": {"n": 1}, "source": "S3://in/results/q1/a.gz"},
            {"v": {"n": 2}, "source": "S3://in/results/q1/a.gz"},
            {"v": {"n": 3}, "source": "S3://data/results/q1/b"}
        ]))
    );
}

#[test]
fn athena_csv_data_files_take_the_given_headers() {
    // "Note that CSV objects exported by an UNLOAD query do not include header in the first
    // line. See CSVHeaderLocation if you need to provide column headers."
    let given = json!({"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["id", "name"]});
    let out = read_store(
        athena("CSV", given),
        &[
            ("results/q1-manifest.csv", b"s3://in/results/q1/a.csv\r\n"),
            ("results/q1/a.csv", b"1,ann\n2,bob\n"),
        ],
    )
    .unwrap();
    assert_eq!(out[1]["v"], json!({"id": "2", "name": "bob"}));
}

#[test]
fn an_athena_manifest_line_that_is_not_an_s3_uri_fails_the_reader() {
    let (error, cause) = read_store(
        athena("JSONL", json!({})),
        &[("results/q1-manifest.csv", b"s3://in/a\nresults/b\n")],
    )
    .unwrap_err();
    assert_eq!(error, "States.ItemReaderFailed");
    assert_eq!(
        cause,
        "line 2 of the Athena manifest s3://in/results/q1-manifest.csv is 'results/b', not an s3://bucket/key URI; an Athena UNLOAD manifest lists one data file URI per line"
    );
}

// ---- Parquet ---------------------------------------------------------------------------------

mod parquet_files {
    use parquet::data_type::{BoolType, ByteArrayType, DoubleType, Int32Type, Int64Type};
    use parquet::file::metadata::ParquetMetaDataWriter;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    use super::Arc;

    /// One column's values; `None` is a null (the column must then be OPTIONAL).
    pub enum Col {
        Double(Vec<f64>),
        Int(Vec<i32>),
        Long(Vec<Option<i64>>),
        Str(Vec<&'static str>),
        Bool(Vec<bool>),
    }

    /// The same file with its footer saying every row group holds `bytes` bytes of column
    /// data (a row group that size would take a test minutes to write).
    pub fn with_row_group_bytes(data: &[u8], bytes: i64) -> Vec<u8> {
        let reader = SerializedFileReader::new(bytes::Bytes::from(data.to_vec())).unwrap();
        let meta = reader.metadata().clone();
        let n = data.len();
        let footer = u32::from_le_bytes(data[n - 8..n - 4].try_into().unwrap()) as usize;
        let groups = meta
            .row_groups()
            .iter()
            .map(|g| {
                g.clone()
                    .into_builder()
                    .set_total_byte_size(bytes)
                    .build()
                    .unwrap()
            })
            .collect();
        let meta = meta.into_builder().set_row_groups(groups).build();
        let mut out = data[..n - 8 - footer].to_vec();
        ParquetMetaDataWriter::new(&mut out, &meta)
            .finish()
            .unwrap();
        out
    }

    /// A Parquet file with this schema (message type text) and one row group of these columns.
    pub fn file(schema: &str, columns: Vec<Col>) -> Vec<u8> {
        let schema = Arc::new(parse_message_type(schema).unwrap());
        let mut out = Vec::new();
        let mut writer = SerializedFileWriter::new(
            &mut out,
            schema,
            Arc::new(WriterProperties::builder().build()),
        )
        .unwrap();
        let mut group = writer.next_row_group().unwrap();
        for col in columns {
            let mut w = group.next_column().unwrap().unwrap();
            match col {
                Col::Double(v) => {
                    w.typed::<DoubleType>().write_batch(&v, None, None).unwrap();
                }
                Col::Int(v) => {
                    w.typed::<Int32Type>().write_batch(&v, None, None).unwrap();
                }
                Col::Long(v) => {
                    let defs: Vec<i16> = v.iter().map(|x| i16::from(x.is_some())).collect();
                    let values: Vec<i64> = v.iter().flatten().copied().collect();
                    w.typed::<Int64Type>()
                        .write_batch(&values, Some(&defs), None)
                        .unwrap();
                }
                Col::Str(v) => {
                    let values: Vec<_> = v.iter().map(|s| (*s).into()).collect();
                    w.typed::<ByteArrayType>()
                        .write_batch(&values, None, None)
                        .unwrap();
                }
                Col::Bool(v) => {
                    w.typed::<BoolType>().write_batch(&v, None, None).unwrap();
                }
            }
            w.close().unwrap();
        }
        group.close().unwrap();
        writer.close().unwrap();
        out
    }
}

use parquet_files::{Col, file};

#[test]
fn parquet_rows_are_objects_keyed_by_column_with_strings_and_numbers() {
    // "Parquet files can be used as an input source"; AWS's sample (an Athena UNLOAD of string
    // and double columns, read by a Lambda comparing the values as numbers) shows a string
    // column as JSON strings and a double column as JSON numbers.
    let data = file(
        "message m { required binary device (UTF8); required double temperature; required int32 count; optional int64 total; }",
        vec![
            Col::Str(vec!["d1", "d2"]),
            Col::Double(vec![36.5, -1.25]),
            Col::Int(vec![7, 8]),
            Col::Long(vec![Some(9_007_199_254_740_992), Some(-3)]),
        ],
    );
    assert_eq!(
        read_store(
            object("data.parquet", "PARQUET"),
            &[("data.parquet", &data)]
        )
        .unwrap(),
        json!([
            {"device": "d1", "temperature": 36.5, "count": 7, "total": 9_007_199_254_740_992_i64},
            {"device": "d2", "temperature": -1.25, "count": 8, "total": -3}
        ])
    );
}

#[test]
fn parquet_types_whose_json_form_aws_does_not_document_are_refused_naming_the_column() {
    let data = file(
        "message m { required boolean ok; }",
        vec![Col::Bool(vec![true])],
    );
    let (error, cause) =
        read_store(object("b.parquet", "PARQUET"), &[("b.parquet", &data)]).unwrap_err();
    assert_eq!(error, "States.ItemReaderFailed");
    assert_eq!(
        cause,
        "column 'ok' of s3://in/b.parquet is BOOLEAN; AWS does not document the JSON value it reads for that Parquet type, so the embedded engine does not guess: write the column as a string, a double or an integer"
    );
    let data = file(
        "message m { optional int64 total; }",
        vec![Col::Long(vec![Some(1), None])],
    );
    let (_, cause) =
        read_store(object("n.parquet", "PARQUET"), &[("n.parquet", &data)]).unwrap_err();
    assert_eq!(
        cause,
        "row 1, column 'total' of s3://in/n.parquet is null; AWS does not document how it reads a null Parquet value (a JSON null or a missing key), so the embedded engine does not guess: fill the column or leave its rows out"
    );
    let data = file(
        "message m { required int64 total; }",
        vec![Col::Long(vec![Some(9_007_199_254_740_993)])],
    );
    let (_, cause) =
        read_store(object("l.parquet", "PARQUET"), &[("l.parquet", &data)]).unwrap_err();
    assert!(
        cause.starts_with(
            "row 0, column 'total' of s3://in/l.parquet holds 9007199254740993, beyond ±2^53"
        ),
        "{cause}"
    );
}

#[test]
fn a_parquet_footer_over_5_mib_or_row_group_over_256_mib_is_a_runtime_error() {
    // "256MB is the maximum row-group size, and 5MB is the maximum footer size. If you provide
    // input files that exceed either limit, your state machine will return a runtime error."
    let mut data = b"PAR1".to_vec();
    data.extend_from_slice(&[0; 16]);
    data.extend_from_slice(&(5 * 1024 * 1024 + 1_u32).to_le_bytes());
    data.extend_from_slice(b"PAR1");
    let (error, cause) =
        read_store(object("f.parquet", "PARQUET"), &[("f.parquet", &data)]).unwrap_err();
    assert_eq!(error, "States.ItemReaderFailed");
    assert_eq!(
        cause,
        "the footer of s3://in/f.parquet is 5242881 bytes, over 5242880 bytes (5 MiB), the largest Parquet footer AWS reads; write the file with fewer row groups or columns"
    );
    let data = file(
        "message m { required double t; }",
        vec![Col::Double(vec![1.0])],
    );
    let at_limit = parquet_files::with_row_group_bytes(&data, 256 * 1024 * 1024);
    assert_eq!(
        read_store(object("g.parquet", "PARQUET"), &[("g.parquet", &at_limit)]).unwrap(),
        json!([{"t": 1.0}])
    );
    let over = parquet_files::with_row_group_bytes(&data, 256 * 1024 * 1024 + 1);
    let (_, cause) =
        read_store(object("g.parquet", "PARQUET"), &[("g.parquet", &over)]).unwrap_err();
    assert_eq!(
        cause,
        "row group 0 of s3://in/g.parquet is 268435457 bytes, over 268435456 bytes (256 MiB), the largest row group AWS reads; write the file with smaller row groups"
    );
    let (_, cause) = read_store(
        object("x.parquet", "PARQUET"),
        &[("x.parquet", b"a,b\n1,2\n")],
    )
    .unwrap_err();
    assert_eq!(
        cause,
        "s3://in/x.parquet is not a Parquet file (it does not start and end with PAR1)"
    );
}

#[test]
fn parquet_with_version_id_is_refused() {
    // "The VersionId field is not supported for InputType=Parquet."
    assert_eq!(
        config(
            "getObject",
            json!({"Bucket": "in", "Key": "k", "VersionId": "v1"}),
            json!({"InputType": "PARQUET"})
        ),
        [
            "/States/Map/ItemReader/Parameters/VersionId: VersionId is not supported when InputType is PARQUET"
        ]
    );
    assert!(
        config(
            "getObject",
            json!({"Bucket": "in", "Key": "k", "VersionId": "v1"}),
            json!({"InputType": "CSV"})
        )
        .is_empty()
    );
}

#[test]
fn athena_parquet_data_files_are_read_row_by_row() {
    // "You set ManifestType to ATHENA_DATA, and InputType to either CSV, JSONL, or Parquet."
    let a = file(
        "message m { required double t; }",
        vec![Col::Double(vec![1.5])],
    );
    let b = file(
        "message m { required double t; }",
        vec![Col::Double(vec![2.5, 3.5])],
    );
    let out = read_store(
        athena("PARQUET", json!({})),
        &[
            (
                "results/q1-manifest.csv",
                b"s3://in/results/q1/a\ns3://in/results/q1/b\n",
            ),
            ("results/q1/a", &a),
            ("results/q1/b", &b),
        ],
    )
    .unwrap();
    assert_eq!(
        out,
        json!([
            {"v": {"t": 1.5}, "source": "S3://in/results/q1/a"},
            {"v": {"t": 2.5}, "source": "S3://in/results/q1/b"},
            {"v": {"t": 3.5}, "source": "S3://in/results/q1/b"}
        ])
    );
}
