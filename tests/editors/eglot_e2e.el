;;; eglot_e2e.el --- Emacs's eglot against spark-lsp, headless  -*- lexical-binding: t -*-

;; Run by tests/test_editor_emacs.py:
;;   emacs --batch -l eglot_e2e.el SERVER FILE FUNCTION-LINE OUTPUT
;; Opens FILE (in a git repository, eglot's project), connects eglot to `SERVER serve --stdio',
;; asks for the code actions of the function on FUNCTION-LINE, picks "Add docstring" through
;; eglot's own menu code and waits for the edit.  Writes a JSON report to OUTPUT: the action
;; titles, the buffer's text afterwards, and eglot's messages.

(require 'eglot)
(require 'json)
(require 'python)

(let* ((arguments command-line-args-left)
       (server (nth 0 arguments))
       (file (nth 1 arguments))
       (function-line (string-to-number (nth 2 arguments)))
       (output (nth 3 arguments))
       (report (list))
       (messages (list)))
  (setq command-line-args-left nil)
  (setq eglot-server-programs `((python-mode . (,server "serve" "--stdio"))))
  (setq eglot-sync-connect t eglot-connect-timeout 120)
  (advice-add 'message :before
              (lambda (format &rest args)
                (when format (push (apply #'format-message format args) messages))))
  (condition-case failure
      (progn
        (find-file file)
        (python-mode)
        (eglot-ensure)
        ;; eglot-ensure connects from a hook once the command loop would run: run it here.
        (let ((deadline (+ (float-time) 120)))
          (while (and (not (eglot-current-server)) (< (float-time) deadline))
            (run-hooks 'post-command-hook)
            (accept-process-output nil 0.2)))
        (unless (eglot-current-server) (error "eglot did not connect"))
        (goto-char (point-min))
        (forward-line (1- function-line))
        (let* ((start (line-beginning-position))
               (end (line-end-position))
               (actions (eglot-code-actions start end))
               (titles (mapcar (lambda (action) (plist-get action :title)) actions))
               (before (buffer-string)))
          (push (cons "titles" (vconcat titles)) report)
          ;; eglot's interactive path: its menu (completing-read here) and its execution.
          ;; The user picks the action, and says yes when eglot asks to apply the server's
          ;; edit (`eglot-confirm-server-initiated-edits' is on by default).
          (cl-letf (((symbol-function 'completing-read)
                     (lambda (&rest _) "spark-lsp: Add docstring"))
                    ((symbol-function 'y-or-n-p)
                     (lambda (prompt) (push prompt messages) t)))
            (let ((last-nonmenu-event ?\r))
              (eglot-code-actions start end nil t))
            (let ((deadline (+ (float-time) 300)))
              (while (and (equal (buffer-string) before) (< (float-time) deadline))
                (accept-process-output nil 0.2)))))
        (push (cons "text" (buffer-string)) report))
    (error (push (cons "error" (error-message-string failure)) report)))
  (push (cons "messages" (vconcat (reverse messages))) report)
  (with-temp-file output (insert (json-encode report)))
  (ignore-errors (eglot-shutdown (eglot-current-server)))
  (kill-emacs 0))

;;; eglot_e2e.el ends here
