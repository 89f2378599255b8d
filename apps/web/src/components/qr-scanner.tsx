/**
 * A camera view that reads QR codes: the camera's frames (getUserMedia) are drawn to a canvas a
 * few times a second and decoded in JavaScript (model/qr.ts), because the Chromium we ship tests
 * on has no BarcodeDetector. Reports the first text read and releases the camera.
 */

import { useEffect, useRef, useState } from 'react';
import { readQr } from '../model/qr.js';
import { Alert } from './alert.js';

/** How often a frame is decoded: often enough to feel instant, rare enough to leave the CPU be. */
const FRAME_MS = 120;
/** Frames are scaled down to this width before decoding; a code held up fills enough of it. */
const MAX_WIDTH = 800;

export function QrScanner(props: { label: string; onRead: (text: string) => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const onRead = useRef(props.onRead);
  onRead.current = props.onRead;
  const [state, setState] = useState<'starting' | 'scanning' | 'failed'>('starting');
  const [error, setError] = useState<string>();

  useEffect(() => {
    let stream: MediaStream | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const canvas = document.createElement('canvas');
    const context = canvas.getContext('2d', { willReadFrequently: true });

    const stop = () => {
      done = true;
      clearTimeout(timer);
      for (const track of stream?.getTracks() ?? []) track.stop();
    };

    const scan = () => {
      const v = video.current;
      if (done || !v || !context) return;
      if (v.readyState >= v.HAVE_CURRENT_DATA && v.videoWidth > 0) {
        const scale = Math.min(1, MAX_WIDTH / v.videoWidth);
        canvas.width = Math.round(v.videoWidth * scale);
        canvas.height = Math.round(v.videoHeight * scale);
        context.drawImage(v, 0, 0, canvas.width, canvas.height);
        const text = readQr(context.getImageData(0, 0, canvas.width, canvas.height));
        if (text !== undefined) {
          stop();
          onRead.current(text);
          return;
        }
      }
      timer = setTimeout(scan, FRAME_MS);
    };

    (async () => {
      if (!navigator.mediaDevices?.getUserMedia) {
        throw new DOMException('no camera API', 'NotSupportedError');
      }
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment' },
        audio: false,
      });
      if (done) return stop();
      const v = video.current!;
      v.srcObject = stream;
      await v.play();
      setState('scanning');
      scan();
    })().catch((e: unknown) => {
      if (done) return;
      stop();
      setState('failed');
      const name = e instanceof DOMException ? e.name : '';
      setError(
        name === 'NotAllowedError'
          ? 'Parley may not use the camera. Allow it in the browser, or type the code instead.'
          : name === 'NotFoundError' || name === 'NotSupportedError'
            ? 'No camera was found. Type the code instead.'
            : 'The camera could not be started. Type the code instead.',
      );
    });
    return stop;
  }, []);

  return (
    <div className="qr-scanner">
      <video ref={video} muted playsInline aria-label={props.label} />
      <p className="hint" role="status">
        {state === 'starting'
          ? 'Starting the camera…'
          : state === 'scanning'
            ? 'Hold the code in front of the camera.'
            : ''}
      </p>
      <Alert message={error} />
    </div>
  );
}
