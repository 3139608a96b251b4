"""Our RPC request path and form body are what the Aliyun SDK's own composer signs.

``bot.channels.aliyun_rpc.signed_request`` uses the SDK's signer, nonce and timestamp but builds
the canonical query in one pass; for any parameters (Chinese, emoji, spaces, ``+ * ~ / % &
=``) the path must be byte for byte the one ``aliyunsdkcore``'s ``get_signed_url`` returns for
the same nonce and timestamp, and the form body must decode to the parameters signed.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from aliyunsdkcore.auth.composer.rpc_signature_composer import get_signed_url
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.aliyun_rpc import percent_encode, signed_request

_chars = st.characters(codec="utf-8", exclude_categories=("Cs",))
_keys = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_."),
                min_size=1, max_size=12)
_values = st.one_of(st.text(_chars, max_size=60),
                    st.sampled_from(["", " ", "+", "*", "~", "%7E", "a b+c*d~e", "/?&=#",
                                     '{"content": "您好，术后第3天：请回复1-5分 😀"}']))


def _sdk(common: dict[str, str], body: dict[str, str]) -> str:
    path, _ = get_signed_url(dict(common), "test-ak", "test-secret", "JSON", "POST", body)
    return path


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(_keys, _values, max_size=6),
       action=st.sampled_from(["SendSms", "QuerySendDetails", "SingleCallByTts", "IvrCall"]))
def test_signed_path_is_the_sdks(body: dict[str, str], action: str) -> None:
    common = {"Action": action, "Version": "2017-05-25", "RegionId": "cn-hangzhou"}
    body = {k: v for k, v in body.items() if k not in common and not k.startswith("Signature")
            and k not in ("Timestamp", "AccessKeyId", "Format")}
    theirs = _sdk(common, body)
    query = dict(parse_qsl(theirs[2:], keep_blank_values=True))
    path, form = signed_request(common, "test-ak", "test-secret", body,
                                nonce=query["SignatureNonce"], timestamp=query["Timestamp"])
    assert path == theirs
    assert dict(parse_qsl(form.decode(), keep_blank_values=True)) == body


def test_percent_encoding_table() -> None:
    for raw, encoded in [("abcXYZ019-_.~", "abcXYZ019-_.~"), (" ", "%20"), ("+", "%2B"),
                         ("*", "%2A"), ("/", "%2F"), ("%", "%25"), ("您", "%E6%82%A8"),
                         ("a 您+b", "a%20%E6%82%A8%2Bb"), ("😀", "%F0%9F%98%80")]:
        assert percent_encode(raw) == encoded
