"""The API reference's own client examples, run unchanged but for URL, secret and file.

The examples are copied verbatim from the CLOVA OCR Custom API reference (``Python`` multipart,
``Python`` JSON, and the multipart ``curl``). They send ``"format": "jpg"`` (Python) or
``"format": "png"`` (curl) whatever the file is; the real service decodes the image by its
content, so must ``clova-etl serve``: PNG, JPEG and TIFF all get ``inferResult: SUCCESS``.
They run as real processes (the system Python with ``requests``, the ``curl`` binary).
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clova_etl.server import RunningServer

# Verbatim from the reference ("Python" example, multipart/form-data).
PYTHON_MULTIPART = """\
import requests
import uuid
import time
import json

api_url = 'YOUR_API_URL'
secret_key = 'YOUR_SECRET_KEY'
image_file = 'YOUR_IMAGE_FILE'

request_json = {
    'images': [
        {
            'format': 'jpg',
            'name': 'demo'
        }
    ],
    'requestId': str(uuid.uuid4()),
    'version': 'V2',
    'timestamp': int(round(time.time() * 1000))
}

payload = {'message': json.dumps(request_json).encode('UTF-8')}
files = [
  ('file', open(image_file,'rb'))
]
headers = {
  'X-OCR-SECRET': secret_key
}

response = requests.request("POST", api_url, headers=headers, data = payload, files = files)

print(response.text.encode('utf8'))
"""

# Verbatim from the reference ("Python" example, application/json).
PYTHON_JSON = """\
import requests
import uuid
import time
import base64
import json

api_url = 'YOUR_API_URL'
secret_key = 'YOUR_SECRET_KEY'
image_url = 'YOUR_IMAGE_URL'
# image_file = 'YOUR_IMAGE_FILE'
# with open(image_file,'rb') as f:
#     file_data = f.read()

request_json = {
    'images': [
        {
            'format': 'jpg',
            'name': 'demo',
#             'data': base64.b64encode(file_data).decode()
            'url': image_url
        }
    ],
    'requestId': str(uuid.uuid4()),
    'version': 'V2',
    'timestamp': int(round(time.time() * 1000))
}

payload = json.dumps(request_json).encode('UTF-8')
headers = {
  'X-OCR-SECRET': secret_key,
  'Content-Type': 'application/json'
}

response = requests.request("POST", api_url, headers=headers, data = payload)

print(response.text)
"""

# Verbatim from the reference (multipart/form-data "CURL example").
CURL_MULTIPART = """\
curl --request POST 'your apigw invoke url' \\
--header 'X-OCR-SECRET: your secret key' \\
--form 'message={"images":[{"format":"png","name":"demo"}],"requestId":"guide-demo","version":"V2","timestamp":1584062336793}' \\
--form 'file=@image.png'
"""  # noqa: E501 (verbatim)


def _substitute(text: str, pairs: dict[str, str]) -> str:
    for old, new in pairs.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def python_multipart(url: str, secret: str, file: Path) -> str:
    """The multipart example with URL, secret and file filled in."""
    return _substitute(
        PYTHON_MULTIPART,
        {"YOUR_API_URL": url, "YOUR_SECRET_KEY": secret, "YOUR_IMAGE_FILE": str(file)},
    )


def python_json(url: str, secret: str, file: Path) -> str:
    """The JSON example sending a file: its own commented-out lines for a file, taken."""
    return _substitute(
        PYTHON_JSON,
        {
            "YOUR_API_URL": url,
            "YOUR_SECRET_KEY": secret,
            "# image_file = 'YOUR_IMAGE_FILE'": f"image_file = {str(file)!r}",
            "# with open(image_file,'rb') as f:": "with open(image_file,'rb') as f:",
            "#     file_data = f.read()": "    file_data = f.read()",
            "#             'data': base64.b64encode(file_data).decode()\n"
            "            'url': image_url": "            'data': base64.b64encode(file_data)"
            ".decode()",
        },
    )


def curl_multipart(url: str, secret: str, file: Path) -> str:
    """The curl example with URL, secret and file filled in."""
    return _substitute(
        CURL_MULTIPART,
        {
            "your apigw invoke url": url,
            "your secret key": secret,
            "file=@image.png": f"file=@{file}",
        },
    )


def _images(kind: str, sample_docs: dict[str, Path]) -> Path:
    if kind == "png":
        return sample_docs["receipt-ko"]
    if kind == "jpeg":
        return sample_docs["receipt-en"]
    return sample_docs["fax-2p"]


def _run(example: str, script: str, tmp: Path) -> dict[str, Any]:
    if example == "curl":
        path = tmp / "example.sh"
        path.write_text(script)
        command = ["sh", str(path)]
    else:
        path = tmp / f"{example}.py"
        path.write_text(script)
        command = [sys.executable, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout.strip()
    if example == "python_multipart":
        out = ast.literal_eval(out).decode("utf-8")  # it prints response.text.encode('utf8')
    answer: dict[str, Any] = json.loads(out)
    return answer


EXAMPLES: dict[str, Callable[[str, str, Path], str]] = {
    "python_multipart": python_multipart,
    "python_json": python_json,
    "curl": curl_multipart,
}


@pytest.mark.parametrize("kind", ["png", "jpeg", "tiff"])
@pytest.mark.parametrize("example", list(EXAMPLES))
def test_reference_examples_succeed_whatever_the_declared_format(
    example: str,
    kind: str,
    ocr_server: RunningServer,
    sample_docs: dict[str, Path],
    tmp_path: Path,
) -> None:
    if example == "curl":
        assert shutil.which("curl"), "curl is required (apt-get install curl)"
    file = _images(kind, sample_docs)
    script = EXAMPLES[example](ocr_server.invoke_url("general"), ocr_server.secret, file)
    answer = _run(example, script, tmp_path)
    results = [image["inferResult"] for image in answer["images"]]
    assert results and set(results) == {"SUCCESS"}, answer["images"][0].get("message")


def test_bytes_that_are_no_image_still_get_the_documented_error(
    ocr_server: RunningServer, tmp_path: Path
) -> None:
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"meeting notes, not a scan")
    script = python_multipart(ocr_server.invoke_url("general"), ocr_server.secret, junk)
    (image,) = _run("python_multipart", script, tmp_path)["images"]
    assert image["inferResult"] == "ERROR"
    assert "not JPEG, PNG, PDF or TIFF" in image["message"]
